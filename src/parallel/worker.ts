/**
 * Worker-thread entry of the pool (tinypool loads this file by path): one job in, one result out.
 */
import { isGenerateJob, runGenerateJob, runJob, type AnyJob, type GenerateJobResult, type SimJobResult } from './jobs.js';

export default function work(job: AnyJob): SimJobResult | GenerateJobResult {
  return isGenerateJob(job) ? runGenerateJob(job) : runJob(job);
}
