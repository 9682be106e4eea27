/**
 * Worker-thread entry of the pool (tinypool loads this file by path): one job in, one result out.
 */
import { runJob, type SimJob, type SimJobResult } from './jobs.js';

export default function work(job: SimJob): SimJobResult {
  return runJob(job);
}
