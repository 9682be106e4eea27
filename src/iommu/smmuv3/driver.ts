/**
 * What the Linux SMMUv3 driver does with PRI queue entries and stall events, and how it answers,
 * as pure functions over decoded records (no engine): the queue threads in index.ts call these.
 *
 * - PRI, policy `fail` (mainline arm_smmu_handle_ppr as read in 2026): log "unexpected PRI
 *   request", and for every entry with Last set issue CMD_PRI_RESP with Linux's PRI_RESP_DENY (= 0,
 *   the spec's Response Failure); nothing is reported to the iopf core. The check is on Last only,
 *   so a Stop Marker (L=1, R=W=0) is answered too.
 * - PRI, policy `handle` (the shape of the unmerged "Add PRI support" series for SMMUv3): each entry
 *   becomes a fault for the iopf core; page_response maps SUCCESS/INVALID/FAILURE to the CMD_PRI_RESP
 *   codes Success/Invalid/Failure.
 * - Stall (mainline arm_smmu_handle_event / arm_smmu_page_response): a stalled event is a one-fault
 *   group — LAST_PAGE, grpid = STAG, PASID_VALID iff SSV, perm READ if RnW else WRITE, +EXEC if InD,
 *   +PRIV if PnU — answered by CMD_RESUME: SUCCESS → retry, INVALID/FAILURE → abort.
 */
import { FaultFlag, FaultPerm, RespCode, type FaultRecord, type RespCodeValue } from '../../iopf/types.js';
import { PciRespCode, PrFlag } from '../../trace/events.js';
import type { PageRequestMsg } from '../../pcie/messages.js';
import {
  SmmuEventId,
  SmmuPriResp,
  SmmuResumeAction,
  type SmmuEventRecord,
  type SmmuPriqEntry,
} from './codec.js';

/** Page size the model uses for addresses (addr = page << 12). */
const PAGE = 4096;

/** The PRI queue entry the SMMU writes for a PCIe Page Request (or Stop Marker). */
export function priqEntryFromMsg(msg: PageRequestMsg, out: SmmuPriqEntry): SmmuPriqEntry {
  const ssv = msg.pasid >= 0;
  out.sid = msg.rid;
  out.ssv = ssv;
  out.ssid = ssv ? msg.pasid : 0;
  out.read = (msg.flags & PrFlag.READ) !== 0;
  out.write = (msg.flags & PrFlag.WRITE) !== 0;
  out.last = (msg.flags & PrFlag.LAST) !== 0;
  // Spec ch. 8: X and Priv are 0 when SSV is 0 (they travel in the PASID prefix).
  out.exec = ssv && (msg.flags & PrFlag.EXEC) !== 0;
  out.priv = ssv && (msg.flags & PrFlag.PRIV) !== 0;
  out.prgIndex = msg.prgi;
  out.pageNum = msg.page;
  return out;
}

/** A Stop Marker as the PRI queue shows it: L=1, R=W=0, with a PASID (SMMUv3 spec ch. 8). */
export function priqEntryIsStopMarker(e: SmmuPriqEntry): boolean {
  return e.ssv && e.last && !e.read && !e.write;
}

/**
 * Policy `handle`: the fault record for one PRI queue entry. RESPONSE_NEEDS_PASID follows the
 * device's PRG Response PASID Required bit (pci_prg_resp_pasid_required), as the core expects.
 */
export function faultFromPriqEntry(
  e: SmmuPriqEntry,
  dev: number,
  reqId: number,
  pasidRequired: boolean,
): FaultRecord {
  let flags = 0;
  if (e.ssv) flags |= FaultFlag.PASID_VALID;
  if (e.last) flags |= FaultFlag.LAST_PAGE;
  if (e.ssv && pasidRequired) flags |= FaultFlag.RESPONSE_NEEDS_PASID;
  let perm = 0;
  if (e.read) perm |= FaultPerm.READ;
  if (e.write) perm |= FaultPerm.WRITE;
  if (e.exec) perm |= FaultPerm.EXEC;
  if (e.priv) perm |= FaultPerm.PRIV;
  return {
    flags,
    pasid: e.ssv ? e.ssid : 0,
    grpid: e.prgIndex,
    perm,
    addr: e.pageNum * PAGE,
    privateData: 0,
    dev,
    reqId,
  };
}

/** iommu_page_response_code → CMD_PRI_RESP Resp. */
export function priRespFromCode(code: RespCodeValue): number {
  switch (code) {
    case RespCode.SUCCESS:
      return SmmuPriResp.SUCCESS;
    case RespCode.INVALID:
      return SmmuPriResp.INVALID;
    case RespCode.FAILURE:
      return SmmuPriResp.FAILURE;
  }
}

/** CMD_PRI_RESP Resp → the PCIe PRG response code the SMMU sends (spec §4.7: 0 Failure, 1 Invalid, 2 Success). */
export function pciCodeFromPriResp(resp: number): number {
  switch (resp) {
    case SmmuPriResp.SUCCESS:
      return PciRespCode.SUCCESS;
    case SmmuPriResp.INVALID:
      return PciRespCode.INVALID;
    default:
      return PciRespCode.FAILURE;
  }
}

/**
 * Whether the PRG response the SMMU emits carries a PASID prefix: the command's SSV and the
 * stream's STE.PPAR ("PRG response PASID required"), which software sets from the function's PRI
 * Status bit. So the wire form follows PRI.RESP.PASID_FORM when PPAR mirrors the device.
 */
export function priRespHasPasid(ssv: boolean, ppar: boolean): boolean {
  return ssv && ppar;
}

/** The event record the SMMU writes for a stalled transaction (translation fault, Stall=1). */
export function stallEventFromMsg(msg: PageRequestMsg, out: SmmuEventRecord): SmmuEventRecord {
  const ssv = msg.pasid >= 0;
  out.eventId = SmmuEventId.TRANSLATION_FAULT;
  out.ssv = ssv;
  out.ssid = ssv ? msg.pasid : 0;
  out.sid = msg.rid;
  out.stag = 0;
  out.stall = true;
  out.pnu = (msg.flags & PrFlag.PRIV) !== 0;
  out.ind = (msg.flags & PrFlag.EXEC) !== 0;
  // One RnW bit: a transaction is a read or a write; a read-and-write request stalls as a write.
  out.rnw = (msg.flags & PrFlag.WRITE) === 0;
  out.s2 = false;
  out.cls = 0;
  out.inputAddr = msg.page * PAGE;
  out.ipaPageNum = 0;
  return out;
}

/** Mainline arm_smmu_handle_event for a stalled record: the one-fault group it reports. */
export function faultFromStallEvent(e: SmmuEventRecord, dev: number, reqId: number): FaultRecord {
  let flags = FaultFlag.LAST_PAGE;
  if (e.ssv) flags |= FaultFlag.PASID_VALID;
  let perm = e.rnw ? FaultPerm.READ : FaultPerm.WRITE;
  if (e.ind) perm |= FaultPerm.EXEC;
  if (e.pnu) perm |= FaultPerm.PRIV;
  return {
    flags,
    pasid: e.ssv ? e.ssid : 0,
    grpid: e.stag,
    perm,
    addr: e.inputAddr,
    privateData: 0,
    dev,
    reqId,
  };
}

/** Whether the event ID is one the stall path reports (mainline arm_smmu_handle_event's filter). */
export function isRecoverableEvent(id: number): boolean {
  return (
    id === SmmuEventId.TRANSLATION_FAULT ||
    id === SmmuEventId.ADDR_SIZE_FAULT ||
    id === SmmuEventId.ACCESS_FAULT ||
    id === SmmuEventId.PERMISSION_FAULT
  );
}

/** Mainline arm_smmu_page_response: SUCCESS → RETRY, INVALID/FAILURE → ABORT. */
export function resumeActionFromCode(code: RespCodeValue): number {
  return code === RespCode.SUCCESS ? SmmuResumeAction.RETRY : SmmuResumeAction.ABORT;
}

/**
 * The model's bridge from a released stall to the PCIe function model (which speaks PRG
 * responses): retry → Success (the function re-translates and completes the access); abort,
 * terminate (CMD_RESUME with Ac=0) and CMD_STALL_TERM → Invalid Request (the access fails, like a
 * bus abort; nothing is disabled, unlike Response Failure).
 */
export function pciCodeFromResume(action: number): number {
  return action === SmmuResumeAction.RETRY ? PciRespCode.SUCCESS : PciRespCode.INVALID;
}
