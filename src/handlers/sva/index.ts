/** SVA: PASID allocation, fault resolution against an mm, bind/unbind and the iopf handler (§7). */
export * from './pasid-allocator.js';
export * from './resolve.js';
export * from './sva.js';
