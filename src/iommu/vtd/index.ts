/** Intel VT-d: the PRQ hardware model, the Linux driver glue and the descriptor codecs. */
export { VtdIommu, isCanonicalPage, wireCode, type VtdDeps } from './driver.js';
export { VtdPrq, VtdPrqReg, VtdPrsBit, responseCarriesPasid } from './prq.js';
