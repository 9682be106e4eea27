/**
 * The per-device fault parameters (struct iommu_fault_param) and the fault queue (struct
 * iopf_queue) are declared in group.ts next to the group (struct iopf_group): a group holds a
 * reference on its device's parameters and the parameters list the pending groups, so the three
 * point at each other (as in include/linux/iommu.h) and one module keeps the imports acyclic.
 */
export { FaultParam, IopfQueue } from './group.js';
