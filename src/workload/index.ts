export { Workload, type WorkloadTarget, type WorkloadRegion } from './workload.js';
export {
  SequentialPattern,
  RandomPattern,
  StridedPattern,
  ZipfPattern,
  ZIPF_MAX_RANKS,
  type AddressPattern,
} from './patterns.js';
