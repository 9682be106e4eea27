/**
 * Every hardware record the IOMMU families encode or decode, by name: the tables behind the codecs,
 * for `iopf list layouts` (and anyone who wants the bit positions as data).
 */
import type { AnyLayout } from '../layout/layout.js';
import { AMD_LAYOUTS } from './amd/codec.js';
import { SMMUV3_LAYOUTS } from './smmuv3/codec.js';
import { VTD_LAYOUTS } from './vtd/codec.js';

export const LAYOUTS: readonly AnyLayout[] = [...VTD_LAYOUTS, ...SMMUV3_LAYOUTS, ...AMD_LAYOUTS];

/** A layout by id (`vtd.page_request`) or, case-insensitively, by its spec name (`CMD_PRI_RESP`). */
export function layoutByName(name: string): AnyLayout | undefined {
  const n = name.toLowerCase();
  return LAYOUTS.find((l) => l.id === n || l.name.toLowerCase() === n);
}
