/** CLI plumbing: exit codes, usage errors, printing. */
export const EXIT = { CLEAN: 0, VIOLATION: 1, BAD_INPUT: 2 } as const;

/** A usage or input problem: printed as one line, exit 2, never a stack trace. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
