/**
 * The ATS, PASID and PRI extended capabilities of a PCIe function as register state
 * (pcie-iommu-hardware.md §1.1; PCIe Base Spec ch. 10). The state is a plain object with typed
 * fields; the read/write functions turn it into the 16/32-bit register images software sees and
 * apply write semantics (RO fields ignore writes, W1C bits clear on 1, unsupported enables stay 0).
 *
 * Offsets and bit positions match Linux include/uapi/linux/pci_regs.h (`PCI_ATS_*`, `PCI_PASID_*`,
 * `PCI_PRI_*`). The device model (src/pcie) owns the behaviour behind the bits (credits, groups,
 * Stopped); this module owns only the register images.
 */
import { assertField } from '../layout/layout.js';

/** Extended capability IDs. */
export const PcieExtCapId = {
  ATS: 0x000f,
  PRI: 0x0013,
  PASID: 0x001b,
} as const;

/** Register offsets inside each capability. */
export const AtsReg = { CAP: 0x04, CTRL: 0x06 } as const;
export const PasidReg = { CAP: 0x04, CTRL: 0x06 } as const;
export const PriReg = { CTRL: 0x04, STATUS: 0x06, CAPACITY: 0x08, ALLOCATION: 0x0c } as const;

/** ATS Capability (16-bit, RO): Invalidate Queue Depth 4:0 (0 means 32), Page Aligned Request b5. */
export const AtsCapBit = { QDEP_MASK: 0x001f, PAGE_ALIGNED: 0x0020 } as const;
/** ATS Control (16-bit, RW): Smallest Translation Unit 4:0, Enable b15. */
export const AtsCtrlBit = { STU_MASK: 0x001f, ENABLE: 0x8000 } as const;
/** PASID Capability (16-bit, RO): Execute Permission Supported b1, Privileged Mode Supported b2, Max PASID Width 12:8. */
export const PasidCapBit = { EXEC: 0x0002, PRIV: 0x0004, WIDTH_SHIFT: 8, WIDTH_MASK: 0x1f00 } as const;
/** PASID Control (16-bit, RW): PASID Enable b0, Execute Permission Enable b1, Privileged Mode Enable b2. */
export const PasidCtrlBit = { ENABLE: 0x0001, EXEC: 0x0002, PRIV: 0x0004 } as const;
/** PRI Control (16-bit): Enable b0 (RW), Reset b1 (write-only, reads 0). */
export const PriCtrlBit = { ENABLE: 0x0001, RESET: 0x0002 } as const;
/** PRI Status (16-bit): RF b0 (W1C), UPRGI b1 (W1C), Stopped b8 (RO), PRG Response PASID Required b15 (RO). */
export const PriStatusBit = { RF: 0x0001, UPRGI: 0x0002, STOPPED: 0x0100, PASID_REQUIRED: 0x8000 } as const;

/** Largest PASID width a function may advertise (PASIDs are 20 bits). */
export const MAX_PASID_WIDTH = 20;

export interface AtsCapState {
  /** RO, 5 bits; the encoding 0 means a depth of 32. */
  invalidateQueueDepth: number;
  /** RO: the function only issues page-aligned translation requests. */
  pageAlignedRequest: boolean;
  /** RW, 5 bits: smallest translation unit is 2^(12+stu) bytes. */
  stu: number;
  /** RW. */
  enable: boolean;
}

export interface PasidCapState {
  /** RO. */
  execSupported: boolean;
  /** RO. */
  privSupported: boolean;
  /** RO, 5-bit field; meaningful values 0..20. */
  maxPasidWidth: number;
  /** RW. */
  enable: boolean;
  /** RW when supported, else reads 0. */
  execEnable: boolean;
  /** RW when supported, else reads 0. */
  privEnable: boolean;
}

export interface PriCapState {
  /** Control: RW. */
  enable: boolean;
  /** Status RF: set by the function on a Response Failure, W1C. */
  responseFailure: boolean;
  /** Status UPRGI: set on a response naming no outstanding group, W1C. */
  unexpectedPrgIndex: boolean;
  /** Status Stopped: RO, maintained by the device model (see {@link updatePriStopped}). */
  stopped: boolean;
  /** Status PRG Response PASID Required: RO, hardware-initialised. */
  prgResponsePasidRequired: boolean;
  /** Outstanding Page Request Capacity: RO, 32 bits. */
  outstandingCapacity: number;
  /** Outstanding Page Request Allocation: RW, 32 bits. */
  outstandingAllocation: number;
}

/** The capabilities of one function; an absent key is an absent capability. */
export interface FunctionConfig {
  ats?: AtsCapState;
  pasid?: PasidCapState;
  pri?: PriCapState;
}

// ---------------------------------------------------------------------------------------------
// ATS
// ---------------------------------------------------------------------------------------------

export function readAtsCap(s: AtsCapState): number {
  assertField('ats.invalidateQueueDepth', s.invalidateQueueDepth, 5);
  return s.invalidateQueueDepth | (s.pageAlignedRequest ? AtsCapBit.PAGE_ALIGNED : 0);
}

export function readAtsCtrl(s: AtsCapState): number {
  assertField('ats.stu', s.stu, 5);
  return s.stu | (s.enable ? AtsCtrlBit.ENABLE : 0);
}

export function writeAtsCtrl(s: AtsCapState, value: number): void {
  assertField('value', value, 16);
  s.stu = value & AtsCtrlBit.STU_MASK;
  s.enable = (value & AtsCtrlBit.ENABLE) !== 0;
}

/** Invalidate queue depth as a count (the field's 0 encodes 32). */
export function atsQueueDepth(s: AtsCapState): number {
  return s.invalidateQueueDepth === 0 ? 32 : s.invalidateQueueDepth;
}

// ---------------------------------------------------------------------------------------------
// PASID
// ---------------------------------------------------------------------------------------------

export function readPasidCap(s: PasidCapState): number {
  assertField('pasid.maxPasidWidth', s.maxPasidWidth, 5);
  return (
    (s.execSupported ? PasidCapBit.EXEC : 0) |
    (s.privSupported ? PasidCapBit.PRIV : 0) |
    (s.maxPasidWidth << PasidCapBit.WIDTH_SHIFT)
  );
}

export function readPasidCtrl(s: PasidCapState): number {
  return (
    (s.enable ? PasidCtrlBit.ENABLE : 0) |
    (s.execEnable ? PasidCtrlBit.EXEC : 0) |
    (s.privEnable ? PasidCtrlBit.PRIV : 0)
  );
}

/** Execute/Privileged enables of an unsupported feature are not writable: they keep reading 0. */
export function writePasidCtrl(s: PasidCapState, value: number): void {
  assertField('value', value, 16);
  s.enable = (value & PasidCtrlBit.ENABLE) !== 0;
  s.execEnable = s.execSupported && (value & PasidCtrlBit.EXEC) !== 0;
  s.privEnable = s.privSupported && (value & PasidCtrlBit.PRIV) !== 0;
}

/** Number of PASIDs the function supports (2^width). */
export function maxPasids(s: PasidCapState): number {
  return 2 ** s.maxPasidWidth;
}

// ---------------------------------------------------------------------------------------------
// PRI
// ---------------------------------------------------------------------------------------------

/** What a write to PRI Control asks the device model to do. */
export interface PriCtrlWriteEffect {
  /**
   * Reset was written with Enable clear (or being cleared by the same write): the function drops
   * its outstanding requests and credits (PRI.RESET.CLEARS). RF and UPRGI are already cleared here.
   */
  reset: boolean;
  /** Enable went from 0 to 1 with this write. */
  enabled: boolean;
  /** Enable went from 1 to 0 with this write. */
  disabled: boolean;
}

/** PRI Control image: Reset always reads 0. */
export function readPriCtrl(s: PriCapState): number {
  return s.enable ? PriCtrlBit.ENABLE : 0;
}

export function writePriCtrl(s: PriCapState, value: number): PriCtrlWriteEffect {
  assertField('value', value, 16);
  const was = s.enable;
  const now = (value & PriCtrlBit.ENABLE) !== 0;
  s.enable = now;
  // PCIe: Reset takes effect only when Enable is clear or being cleared by the same write.
  const reset = (value & PriCtrlBit.RESET) !== 0 && !now;
  if (reset) {
    // PRI.RESET.CLEARS (reference §1.3): the reset clears the error state with the credits.
    s.responseFailure = false;
    s.unexpectedPrgIndex = false;
  }
  // Stopped only has meaning with Enable clear; a newly enabled interface is running.
  if (now) s.stopped = false;
  return { reset, enabled: !was && now, disabled: was && !now };
}

export function readPriStatus(s: PriCapState): number {
  return (
    (s.responseFailure ? PriStatusBit.RF : 0) |
    (s.unexpectedPrgIndex ? PriStatusBit.UPRGI : 0) |
    (s.stopped ? PriStatusBit.STOPPED : 0) |
    (s.prgResponsePasidRequired ? PriStatusBit.PASID_REQUIRED : 0)
  );
}

/** RF and UPRGI clear on a 1; Stopped and PRG Response PASID Required ignore writes. */
export function writePriStatus(s: PriCapState, value: number): void {
  assertField('value', value, 16);
  if ((value & PriStatusBit.RF) !== 0) s.responseFailure = false;
  if ((value & PriStatusBit.UPRGI) !== 0) s.unexpectedPrgIndex = false;
}

export function readPriCapacity(s: PriCapState): number {
  assertField('pri.outstandingCapacity', s.outstandingCapacity, 32);
  return s.outstandingCapacity;
}

export function readPriAllocation(s: PriCapState): number {
  assertField('pri.outstandingAllocation', s.outstandingAllocation, 32);
  return s.outstandingAllocation;
}

/**
 * Software sets how many requests the function may have outstanding. The register holds what is
 * written, even above Capacity or while enabled (both undefined behaviour in PCIe): the checker and
 * {@link validateFunctionConfig} flag it rather than the register hiding it.
 */
export function writePriAllocation(s: PriCapState, value: number): void {
  assertField('value', value, 32);
  s.outstandingAllocation = value;
}

/** Device-model hook: Stopped reads 1 when Enable is clear and nothing is outstanding (PRI.STOPPED). */
export function updatePriStopped(s: PriCapState, outstanding: number): void {
  s.stopped = !s.enable && outstanding === 0;
}

// ---------------------------------------------------------------------------------------------
// Register-image dispatch
// ---------------------------------------------------------------------------------------------

export type CapName = 'ats' | 'pasid' | 'pri';

function need<T>(cap: T | undefined, name: CapName): T {
  if (cap === undefined) throw new RangeError(`function has no ${name.toUpperCase()} capability`);
  return cap;
}

/** Read the register at `offset` of capability `cap` (16-bit or 32-bit by offset). */
export function readCapReg(cfg: FunctionConfig, cap: CapName, offset: number): number {
  switch (cap) {
    case 'ats': {
      const s = need(cfg.ats, cap);
      if (offset === AtsReg.CAP) return readAtsCap(s);
      if (offset === AtsReg.CTRL) return readAtsCtrl(s);
      break;
    }
    case 'pasid': {
      const s = need(cfg.pasid, cap);
      if (offset === PasidReg.CAP) return readPasidCap(s);
      if (offset === PasidReg.CTRL) return readPasidCtrl(s);
      break;
    }
    case 'pri': {
      const s = need(cfg.pri, cap);
      if (offset === PriReg.CTRL) return readPriCtrl(s);
      if (offset === PriReg.STATUS) return readPriStatus(s);
      if (offset === PriReg.CAPACITY) return readPriCapacity(s);
      if (offset === PriReg.ALLOCATION) return readPriAllocation(s);
      break;
    }
  }
  throw new RangeError(`no ${cap} register at offset 0x${offset.toString(16)}`);
}

/**
 * Write the register at `offset` of capability `cap`. Read-only registers ignore the write. Returns
 * the PRI Control effect for a write to PRI Control, else null.
 */
export function writeCapReg(
  cfg: FunctionConfig,
  cap: CapName,
  offset: number,
  value: number,
): PriCtrlWriteEffect | null {
  switch (cap) {
    case 'ats': {
      const s = need(cfg.ats, cap);
      if (offset === AtsReg.CAP) return null;
      if (offset === AtsReg.CTRL) {
        writeAtsCtrl(s, value);
        return null;
      }
      break;
    }
    case 'pasid': {
      const s = need(cfg.pasid, cap);
      if (offset === PasidReg.CAP) return null;
      if (offset === PasidReg.CTRL) {
        writePasidCtrl(s, value);
        return null;
      }
      break;
    }
    case 'pri': {
      const s = need(cfg.pri, cap);
      if (offset === PriReg.CTRL) return writePriCtrl(s, value);
      if (offset === PriReg.STATUS) {
        writePriStatus(s, value);
        return null;
      }
      if (offset === PriReg.CAPACITY) return null;
      if (offset === PriReg.ALLOCATION) {
        writePriAllocation(s, value);
        return null;
      }
      break;
    }
  }
  throw new RangeError(`no ${cap} register at offset 0x${offset.toString(16)}`);
}

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

export interface ConfigError {
  /** Dotted path of the offending field, e.g. `pri.outstandingAllocation`. */
  field: string;
  message: string;
}

function checkBits(errors: ConfigError[], field: string, value: number, bits: number): boolean {
  if (!Number.isInteger(value) || value < 0 || value > 2 ** bits - 1) {
    errors.push({ field, message: `${value} does not fit the ${bits}-bit field` });
    return false;
  }
  return true;
}

/**
 * Configurations no real function can be in (a scenario error, reported as values): fields that do
 * not fit their registers, Allocation above Capacity, a PASID width above 20, an enable of an
 * unsupported feature, PRI without ATS, and "PRG Response PASID Required" without PASID.
 */
export function validateFunctionConfig(cfg: FunctionConfig): ConfigError[] {
  const errors: ConfigError[] = [];
  const { ats, pasid, pri } = cfg;
  if (ats !== undefined) {
    checkBits(errors, 'ats.invalidateQueueDepth', ats.invalidateQueueDepth, 5);
    checkBits(errors, 'ats.stu', ats.stu, 5);
  }
  if (pasid !== undefined) {
    if (
      checkBits(errors, 'pasid.maxPasidWidth', pasid.maxPasidWidth, 5) &&
      pasid.maxPasidWidth > MAX_PASID_WIDTH
    ) {
      errors.push({
        field: 'pasid.maxPasidWidth',
        message: `width ${pasid.maxPasidWidth} exceeds ${MAX_PASID_WIDTH} bits`,
      });
    }
    if (pasid.execEnable && !pasid.execSupported) {
      errors.push({ field: 'pasid.execEnable', message: 'Execute Permission enabled but not supported' });
    }
    if (pasid.privEnable && !pasid.privSupported) {
      errors.push({ field: 'pasid.privEnable', message: 'Privileged Mode enabled but not supported' });
    }
  }
  if (pri !== undefined) {
    const capOk = checkBits(errors, 'pri.outstandingCapacity', pri.outstandingCapacity, 32);
    const allocOk = checkBits(errors, 'pri.outstandingAllocation', pri.outstandingAllocation, 32);
    if (capOk && allocOk && pri.outstandingAllocation > pri.outstandingCapacity) {
      errors.push({
        field: 'pri.outstandingAllocation',
        message: `Allocation ${pri.outstandingAllocation} exceeds Capacity ${pri.outstandingCapacity}`,
      });
    }
    if (ats === undefined) {
      errors.push({ field: 'pri', message: 'PRI requires the ATS capability' });
    }
    if (pri.prgResponsePasidRequired && pasid === undefined) {
      errors.push({
        field: 'pri.prgResponsePasidRequired',
        message: 'PRG Response PASID Required set on a function without the PASID capability',
      });
    }
  }
  return errors;
}
