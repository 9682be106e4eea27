/** iommufd user-space fault delivery: uAPI codecs and the fault object (linux-iopf.md §9). */
export * from './abi.js';
export * from './fault-object.js';
export * from './ctx.js';
