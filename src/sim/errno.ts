/**
 * Kernel error codes as a typed union. Results across the model mirror the kernel's: 0 or a negative
 * errno. Values are Linux's asm-generic numbers so traces and users recognise them.
 */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  EINTR: 4,
  EIO: 5,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  EINVAL: 22,
  ENOSPC: 28,
  ESPIPE: 29,
  EOVERFLOW: 75,
  EOPNOTSUPP: 95,
} as const;

export type ErrnoName = keyof typeof Errno;

/** A kernel-style result: 0 for success, or the negated errno. */
export type KResult = 0 | -1 | -2 | -4 | -5 | -9 | -11 | -12 | -14 | -16 | -17 | -19 | -22 | -28 | -29 | -75 | -95;

const byValue = new Map<number, ErrnoName>(
  (Object.entries(Errno) as [ErrnoName, number][]).map(([k, v]) => [v, k]),
);

/** `-22` → `"-EINVAL"`, `0` → `"0"`; for messages and traces. */
export function errnoName(result: number): string {
  if (result === 0) return '0';
  const name = byValue.get(-result);
  return name === undefined ? String(result) : `-${name}`;
}

/** Negated errno for a name: `err('EINVAL')` is -22. */
export function err(name: ErrnoName): KResult {
  return -Errno[name] as KResult;
}
