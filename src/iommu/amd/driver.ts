/**
 * What the Linux AMD-Vi driver does with a PPR log entry and how it answers, as pure functions
 * (drivers/iommu/amd/ppr.c: ppr_is_valid, ppr_flag_to_fault_perm, iommu_call_iopf_notifier,
 * amd_iommu_page_response; drivers/iommu/amd/iommu.c: amd_iommu_complete_ppr, build_complete_ppr).
 *
 * As read:
 * - entries of another type than "page fault request" are ignored (no response);
 * - GN clear (no PASID), a reserved bit set, PASID 0 or PASID ≥ the device's max PASIDs → the
 *   driver answers COMPLETE_PPR_REQUEST with IOMMU_PAGE_RESP_FAILURE at once — for *any* entry,
 *   last or not ("Nobody cared, abort"; the reference answers only the group's L=1 entry);
 * - otherwise a fault with PASID_VALID and RESPONSE_NEEDS_PASID always set, LAST_PAGE from tag
 *   bit 9, perm READ/WRITE/EXEC from the flags and PRIV when US is clear, addr = address & ~0xfff,
 *   and grpid = the whole 10-bit tag (PPR_TAG), i.e. PRG index | (last << 9);
 * - the response passes the core's code through unchanged as the 4-bit status (FAILURE = 2, a
 *   reserved PCIe code) and the tag masked to 9 bits; PASID and GN are filled iff the device's
 *   PRG Response PASID Required bit (`dev_data->pri_tlp`) is set.
 */
import { FaultFlag, FaultPerm, RespCode, type FaultRecord, type RespCodeValue } from '../../iopf/types.js';
import { PciRespCode, PrFlag } from '../../trace/events.js';
import type { PageRequestMsg } from '../../pcie/messages.js';
import { AMD_PPR_REQ_FAULT, AmdPprFlag, AmdPprStatus, pprTag, type AmdPprLogEntry } from './codec.js';

const PAGE = 4096;

/** The PPR log entry the IOMMU writes for a PCIe page request. */
export function pprEntryFromMsg(msg: PageRequestMsg, out: AmdPprLogEntry): AmdPprLogEntry {
  const hasPasid = msg.pasid >= 0;
  let flags = 0;
  if ((msg.flags & PrFlag.READ) !== 0) flags |= AmdPprFlag.READ;
  if ((msg.flags & PrFlag.WRITE) !== 0) flags |= AmdPprFlag.WRITE;
  if (hasPasid && (msg.flags & PrFlag.EXEC) !== 0) flags |= AmdPprFlag.EXEC;
  // US = 1 for a user access: a request without the Privileged bit (or without a PASID prefix).
  if (!hasPasid || (msg.flags & PrFlag.PRIV) === 0) flags |= AmdPprFlag.US;
  if (hasPasid) flags |= AmdPprFlag.GN;
  out.deviceId = msg.rid;
  out.pasid = hasPasid ? msg.pasid : 0;
  out.prgIndex = msg.prgi;
  out.last = (msg.flags & PrFlag.LAST) !== 0;
  out.flags = flags;
  out.type = AMD_PPR_REQ_FAULT;
  out.address = msg.page * PAGE;
  return out;
}

/** Why the driver refuses an entry before reporting it (ppr_is_valid and the PASID range check). */
export type PprCheck = 'ok' | 'not-fault' | 'no-gn' | 'reserved' | 'bad-pasid';

export function checkPprEntry(e: AmdPprLogEntry, maxPasids: number): PprCheck {
  if (e.type !== AMD_PPR_REQ_FAULT) return 'not-fault';
  if ((e.flags & AmdPprFlag.GN) === 0) return 'no-gn';
  if ((e.flags & AmdPprFlag.RSVD) !== 0) return 'reserved';
  // PASID 0 stands for requests without PASID on AMD; it is never a valid SVA PASID here.
  if (e.pasid === 0 || e.pasid >= maxPasids) return 'bad-pasid';
  return 'ok';
}

/** ppr_flag_to_fault_perm. */
export function permFromPprFlags(flags: number): number {
  let perm = 0;
  if ((flags & AmdPprFlag.READ) !== 0) perm |= FaultPerm.READ;
  if ((flags & AmdPprFlag.WRITE) !== 0) perm |= FaultPerm.WRITE;
  if ((flags & AmdPprFlag.EXEC) !== 0) perm |= FaultPerm.EXEC;
  if ((flags & AmdPprFlag.US) === 0) perm |= FaultPerm.PRIV;
  return perm;
}

/**
 * iommu_call_iopf_notifier's fault. `grpidWithLastBit`: mainline's grpid is the whole tag
 * (index | last << 9), so a group's non-last faults (bit 9 clear) never match its last fault in
 * the core's grouping; false gives the PRG index alone.
 */
export function faultFromPprEntry(
  e: AmdPprLogEntry,
  dev: number,
  reqId: number,
  grpidWithLastBit: boolean,
): FaultRecord {
  let flags = FaultFlag.RESPONSE_NEEDS_PASID | FaultFlag.PASID_VALID;
  if (e.last) flags |= FaultFlag.LAST_PAGE;
  return {
    flags,
    pasid: e.pasid,
    grpid: grpidWithLastBit ? pprTag(e) : e.prgIndex,
    perm: permFromPprFlags(e.flags),
    addr: e.address - (e.address % PAGE),
    privateData: 0,
    dev,
    reqId,
  };
}

/**
 * COMPLETE_PPR_REQUEST status for a core response code. `raw` (mainline): the core's enum value
 * as is (FAILURE = 2, reserved on the wire); otherwise the PCIe codes (FAILURE = 1111b).
 */
export function pprStatusFromCode(code: RespCodeValue, raw: boolean): number {
  if (raw) return code;
  switch (code) {
    case RespCode.SUCCESS:
      return AmdPprStatus.SUCCESS;
    case RespCode.INVALID:
      return AmdPprStatus.INVALID;
    case RespCode.FAILURE:
      return AmdPprStatus.FAILURE;
  }
}

/** The 4-bit status goes on the wire as the PRG response code (0 Success, 1 Invalid, Fh Failure). */
export function pciCodeFromPprStatus(status: number): number {
  return status === AmdPprStatus.FAILURE ? PciRespCode.FAILURE : status;
}
