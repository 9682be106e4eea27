// Writes a JSONL trace of the bench scenario to `path` until it holds `bytes` (check-offline's input).
import { JsonlWriter } from '../dist/trace/jsonl.js';
import { benchScenario } from './scenario.mjs';
import { writeTraceFile } from './trace-file.mjs';

const [path, bytesArg = '1e9'] = process.argv.slice(2);
const bytes = Number(bytesArg);
// ~100 bytes a record and ~4 records a page request: ask for more than enough, stop at `bytes`.
writeTraceFile(path, bytes, benchScenario(bytes / 200, 'sva', 'off'), (write, close) => new JsonlWriter(write, { bufferChars: 1 << 20, close }));
