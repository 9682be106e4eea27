import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  AtsCtrlBit,
  AtsReg,
  atsQueueDepth,
  maxPasids,
  PasidReg,
  PcieExtCapId,
  PriReg,
  PriStatusBit,
  readAtsCap,
  readAtsCtrl,
  readCapReg,
  readPasidCap,
  readPasidCtrl,
  readPriCtrl,
  readPriStatus,
  updatePriStopped,
  validateFunctionConfig,
  writeAtsCtrl,
  writeCapReg,
  writePasidCtrl,
  writePriCtrl,
  writePriStatus,
  type AtsCapState,
  type FunctionConfig,
  type PasidCapState,
  type PriCapState,
} from '../../src/pcie/registers.js';

function ats(over: Partial<AtsCapState> = {}): AtsCapState {
  return { invalidateQueueDepth: 0, pageAlignedRequest: false, stu: 0, enable: false, ...over };
}
function pasid(over: Partial<PasidCapState> = {}): PasidCapState {
  return {
    execSupported: false,
    privSupported: false,
    maxPasidWidth: 20,
    enable: false,
    execEnable: false,
    privEnable: false,
    ...over,
  };
}
function pri(over: Partial<PriCapState> = {}): PriCapState {
  return {
    enable: false,
    responseFailure: false,
    unexpectedPrgIndex: false,
    stopped: true,
    prgResponsePasidRequired: false,
    outstandingCapacity: 32,
    outstandingAllocation: 32,
    ...over,
  };
}
function fullConfig(): FunctionConfig {
  return { ats: ats(), pasid: pasid(), pri: pri() };
}

describe('PCIe capability IDs and offsets', () => {
  it('PCIE.CAP.IDS: ATS 000Fh, PRI 0013h, PASID 001Bh; register offsets as in pci_regs.h', () => {
    expect(PcieExtCapId).toEqual({ ATS: 0x0f, PRI: 0x13, PASID: 0x1b });
    expect(AtsReg).toEqual({ CAP: 4, CTRL: 6 });
    expect(PasidReg).toEqual({ CAP: 4, CTRL: 6 });
    expect(PriReg).toEqual({ CTRL: 4, STATUS: 6, CAPACITY: 8, ALLOCATION: 0xc });
  });
});

describe('ATS capability', () => {
  it('PCIE.ATS.CAP_IMAGE: Invalidate Queue Depth 4:0, Page Aligned Request b5', () => {
    // depth 0x1f | page-aligned 0x20 = 0x3f
    expect(readAtsCap(ats({ invalidateQueueDepth: 0x1f, pageAlignedRequest: true }))).toBe(0x003f);
    expect(readAtsCap(ats({ invalidateQueueDepth: 0x10 }))).toBe(0x0010);
    expect(readAtsCap(ats({ pageAlignedRequest: true }))).toBe(0x0020);
  });

  it('PCIE.ATS.QDEP_ZERO_IS_32: the depth encoding 0 means 32', () => {
    expect(atsQueueDepth(ats({ invalidateQueueDepth: 0 }))).toBe(32);
    expect(atsQueueDepth(ats({ invalidateQueueDepth: 5 }))).toBe(5);
  });

  it('PCIE.ATS.CTRL_IMAGE: STU 4:0, Enable b15', () => {
    expect(readAtsCtrl(ats({ stu: 0x1f, enable: true }))).toBe(0x801f);
    expect(readAtsCtrl(ats({ enable: true }))).toBe(AtsCtrlBit.ENABLE);
    const s = ats();
    writeAtsCtrl(s, 0xffff);
    expect(s).toMatchObject({ stu: 0x1f, enable: true });
    expect(readAtsCtrl(s)).toBe(0x801f); // bits 14:5 are reserved and read 0
  });

  it('PCIE.ATS.CAP_RO: writes to the Capability register are ignored', () => {
    const cfg = { ats: ats({ invalidateQueueDepth: 3 }) };
    expect(writeCapReg(cfg, 'ats', AtsReg.CAP, 0xffff)).toBeNull();
    expect(readCapReg(cfg, 'ats', AtsReg.CAP)).toBe(3);
  });

  it('PCIE.ATS.CTRL_RW: read(write(v)) = v & 0x801f', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), (v) => {
        const cfg = { ats: ats() };
        writeCapReg(cfg, 'ats', AtsReg.CTRL, v);
        expect(readCapReg(cfg, 'ats', AtsReg.CTRL)).toBe(v & 0x801f);
      }),
    );
  });
});

describe('PASID capability', () => {
  it('PCIE.PASID.CAP_IMAGE: Exec b1, Priv b2, Max PASID Width 12:8', () => {
    // width 20 << 8 = 0x1400 | exec 2 | priv 4 = 0x1406
    expect(readPasidCap(pasid({ execSupported: true, privSupported: true, maxPasidWidth: 20 }))).toBe(0x1406);
    expect(readPasidCap(pasid({ execSupported: true, maxPasidWidth: 0 }))).toBe(0x0002);
    expect(readPasidCap(pasid({ privSupported: true, maxPasidWidth: 0x1f }))).toBe(0x1f04);
    expect(maxPasids(pasid({ maxPasidWidth: 20 }))).toBe(1 << 20);
  });

  it('PCIE.PASID.CTRL_IMAGE: Enable b0, Exec Enable b1, Priv Enable b2', () => {
    expect(readPasidCtrl(pasid({ enable: true }))).toBe(1);
    expect(readPasidCtrl(pasid({ execSupported: true, execEnable: true }))).toBe(2);
    expect(readPasidCtrl(pasid({ privSupported: true, privEnable: true }))).toBe(4);
  });

  it('PCIE.PASID.UNSUPPORTED_ENABLE_READS_0: Exec/Priv enables of unsupported features stay clear', () => {
    const s = pasid({ execSupported: false, privSupported: true });
    writePasidCtrl(s, 0x0007);
    expect(readPasidCtrl(s)).toBe(0x0005);
    expect(s.execEnable).toBe(false);
    const t = pasid({ execSupported: true, privSupported: false });
    writePasidCtrl(t, 0xffff);
    expect(readPasidCtrl(t)).toBe(0x0003);
  });

  it('PCIE.PASID.CTRL_RW: read(write(v)) = v & 7 when both features are supported', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), (v) => {
        const cfg = { pasid: pasid({ execSupported: true, privSupported: true }) };
        writeCapReg(cfg, 'pasid', PasidReg.CTRL, v);
        expect(readCapReg(cfg, 'pasid', PasidReg.CTRL)).toBe(v & 7);
      }),
    );
  });
});

describe('PRI capability', () => {
  it('PCIE.PRI.STATUS_IMAGE: RF b0, UPRGI b1, Stopped b8, PRG Response PASID Required b15', () => {
    expect(readPriStatus(pri({ stopped: false, responseFailure: true }))).toBe(0x0001);
    expect(readPriStatus(pri({ stopped: false, unexpectedPrgIndex: true }))).toBe(0x0002);
    expect(readPriStatus(pri({ stopped: true }))).toBe(0x0100);
    expect(readPriStatus(pri({ stopped: false, prgResponsePasidRequired: true }))).toBe(0x8000);
  });

  it('PCIE.PRI.STATUS_W1C: RF and UPRGI clear on 1, Stopped and PASID Required ignore writes', () => {
    const s = pri({
      responseFailure: true,
      unexpectedPrgIndex: true,
      stopped: true,
      prgResponsePasidRequired: true,
    });
    expect(readPriStatus(s)).toBe(0x8103);
    writePriStatus(s, 0); // writing 0 clears nothing
    expect(readPriStatus(s)).toBe(0x8103);
    writePriStatus(s, PriStatusBit.RF | PriStatusBit.STOPPED | PriStatusBit.PASID_REQUIRED);
    expect(readPriStatus(s)).toBe(0x8102);
    writePriStatus(s, 0xffff);
    expect(readPriStatus(s)).toBe(0x8100);
  });

  it('PCIE.PRI.STATUS_W1C_PROPERTY: a status write only ever clears RF/UPRGI bits named by a 1', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff }), (before, w) => {
        const s = pri({
          responseFailure: (before & 1) !== 0,
          unexpectedPrgIndex: (before & 2) !== 0,
          stopped: (before & 0x100) !== 0,
          prgResponsePasidRequired: (before & 0x8000) !== 0,
        });
        const img = readPriStatus(s);
        writePriStatus(s, w);
        expect(readPriStatus(s)).toBe(img & ~(w & 0x3));
      }),
    );
  });

  it('PCIE.PRI.CTRL_IMAGE: Enable b0; Reset b1 always reads 0', () => {
    const s = pri();
    writePriCtrl(s, 0x0003);
    expect(readPriCtrl(s)).toBe(0x0001);
  });

  it('PRI.RESET.CLEARS: Reset with Enable clear drops state and clears RF/UPRGI; ignored while enabled', () => {
    const s = pri({ enable: true, responseFailure: true, unexpectedPrgIndex: true, stopped: false });
    // Reset together with Enable=1: no effect on the error state.
    expect(writePriCtrl(s, 0x0003)).toEqual({ reset: false, enabled: false, disabled: false });
    expect(s.responseFailure).toBe(true);
    // Reset while clearing Enable in the same write: takes effect.
    expect(writePriCtrl(s, 0x0002)).toEqual({ reset: true, enabled: false, disabled: true });
    expect(s).toMatchObject({ enable: false, responseFailure: false, unexpectedPrgIndex: false });
    // Reset with Enable already clear.
    s.responseFailure = true;
    expect(writePriCtrl(s, 0x0002).reset).toBe(true);
    expect(s.responseFailure).toBe(false);
    // Enabling again.
    expect(writePriCtrl(s, 0x0001)).toEqual({ reset: false, enabled: true, disabled: false });
  });

  it('PRI.STOPPED: Stopped reads 1 only with Enable clear and nothing outstanding', () => {
    const s = pri({ enable: true, stopped: true });
    writePriCtrl(s, 1);
    expect(s.stopped).toBe(false);
    updatePriStopped(s, 0);
    expect(s.stopped).toBe(false); // still enabled
    writePriCtrl(s, 0);
    updatePriStopped(s, 3);
    expect(s.stopped).toBe(false);
    updatePriStopped(s, 0);
    expect(readPriStatus(s) & PriStatusBit.STOPPED).toBe(PriStatusBit.STOPPED);
  });

  it('PCIE.PRI.CAPACITY_RO_ALLOCATION_RW: Capacity ignores writes, Allocation holds the written u32', () => {
    const cfg = { ats: ats(), pri: pri({ outstandingCapacity: 64, outstandingAllocation: 0 }) };
    expect(writeCapReg(cfg, 'pri', PriReg.CAPACITY, 5)).toBeNull();
    expect(readCapReg(cfg, 'pri', PriReg.CAPACITY)).toBe(64);
    writeCapReg(cfg, 'pri', PriReg.ALLOCATION, 0xffff_ffff);
    expect(readCapReg(cfg, 'pri', PriReg.ALLOCATION)).toBe(0xffff_ffff);
    writeCapReg(cfg, 'pri', PriReg.ALLOCATION, 16);
    expect(readCapReg(cfg, 'pri', PriReg.ALLOCATION)).toBe(16);
    expect(() => writeCapReg(cfg, 'pri', PriReg.ALLOCATION, 2 ** 32)).toThrow(RangeError);
  });

  it('PCIE.PRI.DISPATCH: writeCapReg returns the PRI Control effect and routes status writes', () => {
    const cfg = fullConfig();
    expect(writeCapReg(cfg, 'pri', PriReg.CTRL, 1)).toEqual({ reset: false, enabled: true, disabled: false });
    cfg.pri!.responseFailure = true;
    expect(writeCapReg(cfg, 'pri', PriReg.STATUS, 1)).toBeNull();
    expect(cfg.pri!.responseFailure).toBe(false);
    expect(readCapReg(cfg, 'pri', PriReg.CTRL)).toBe(1);
  });
});

describe('register dispatch errors', () => {
  it('PCIE.CAP.DISPATCH_ERRORS: unknown offsets, absent capabilities and oversized writes throw RangeError', () => {
    expect(() => readCapReg(fullConfig(), 'ats', 0x08)).toThrow(RangeError);
    expect(() => writeCapReg(fullConfig(), 'pasid', 0x0a, 0)).toThrow(RangeError);
    expect(() => readCapReg({}, 'pri', PriReg.STATUS)).toThrow(/no PRI capability/);
    expect(() => writeCapReg(fullConfig(), 'ats', AtsReg.CTRL, 0x10000)).toThrow(RangeError);
    expect(() => readAtsCtrl(ats({ stu: 32 }))).toThrow(RangeError);
  });
});

describe('validateFunctionConfig', () => {
  it('PCIE.CFG.VALID: a consistent function has no errors', () => {
    expect(validateFunctionConfig(fullConfig())).toEqual([]);
    expect(validateFunctionConfig({ ats: ats() })).toEqual([]);
    expect(
      validateFunctionConfig({
        ats: ats({ stu: 0, enable: true }),
        pasid: pasid({ execSupported: true, execEnable: true, enable: true }),
        pri: pri({ prgResponsePasidRequired: true, outstandingCapacity: 8, outstandingAllocation: 8 }),
      }),
    ).toEqual([]);
  });

  it('PCIE.CFG.ALLOC_LE_CAPACITY: Allocation above Capacity is reported', () => {
    const errs = validateFunctionConfig({
      ats: ats(),
      pri: pri({ outstandingCapacity: 8, outstandingAllocation: 9 }),
    });
    expect(errs.map((e) => e.field)).toEqual(['pri.outstandingAllocation']);
    expect(errs[0]!.message).toMatch(/9.*8/);
  });

  it('PCIE.CFG.PASID_WIDTH_LE_20: a width above 20 (or not fitting 5 bits) is reported', () => {
    expect(validateFunctionConfig({ pasid: pasid({ maxPasidWidth: 21 }) }).map((e) => e.field)).toEqual([
      'pasid.maxPasidWidth',
    ]);
    expect(validateFunctionConfig({ pasid: pasid({ maxPasidWidth: 32 }) }).map((e) => e.field)).toEqual([
      'pasid.maxPasidWidth',
    ]);
    expect(validateFunctionConfig({ pasid: pasid({ maxPasidWidth: 20 }) })).toEqual([]);
  });

  it('PCIE.CFG.ENABLE_NEEDS_SUPPORT: Exec/Priv enabled but not supported are reported', () => {
    const errs = validateFunctionConfig({ pasid: pasid({ execEnable: true, privEnable: true }) });
    expect(errs.map((e) => e.field)).toEqual(['pasid.execEnable', 'pasid.privEnable']);
  });

  it('PCIE.CFG.PRI_NEEDS_ATS_AND_PASID_REQUIRED_NEEDS_PASID', () => {
    const errs = validateFunctionConfig({ pri: pri({ prgResponsePasidRequired: true }) });
    expect(errs.map((e) => e.field)).toEqual(['pri', 'pri.prgResponsePasidRequired']);
  });

  it('PCIE.CFG.FIELD_WIDTHS: fields that do not fit their registers are reported, not thrown', () => {
    const errs = validateFunctionConfig({
      ats: ats({ invalidateQueueDepth: 32, stu: -1 }),
      pri: pri({ outstandingCapacity: 2 ** 32, outstandingAllocation: 1.5 }),
    });
    expect(errs.map((e) => e.field)).toEqual([
      'ats.invalidateQueueDepth',
      'ats.stu',
      'pri.outstandingCapacity',
      'pri.outstandingAllocation',
    ]);
  });
});
