// placeholder until the helper writes it
import type { Scenario } from '../scenario/schema.js';
import type { TraceSink } from './tracer.js';
export class PerfettoWriter implements TraceSink {
  constructor(_s: Scenario, _w: (c: string) => void, _c?: () => void) {}
  onEvent(): void {}
}
