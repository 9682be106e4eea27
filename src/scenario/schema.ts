/**
 * The scenario format, validated with zod (strict objects: an unknown key is an error). A scenario
 * says which kernel profile and IOMMU family to model, the PCIe functions with their capability
 * registers, the processes and their address spaces, the traffic, the timed actions, the latency of
 * every stage and which fault sites fire. Defaults are the reference's values.
 */
import { PROFILE_NAMES } from './profiles.js';
import { z } from 'zod';
import { quote } from './diagnostics.js';

/** A short, escaped description of an input value for messages. */
function shown(v: unknown): string {
  if (typeof v === 'string') return quote(v, 40);
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  return Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'a mapping' : typeof v;
}

const UNITS: Record<string, number> = { '': 1, k: 1e3, K: 1024, KiB: 1024, M: 1e6, MiB: 1 << 20, G: 1e9, GiB: 1 << 30 };

/** A non-negative integer, or a string like "16MiB", "0x1000". */
const sizeLike = z.union([
  z.number().int().nonnegative(),
  z.string().transform((s, ctx) => {
    const m = /^(0x[0-9a-fA-F]+|\d+)\s*(k|K|KiB|M|MiB|G|GiB)?$/.exec(s.trim());
    if (m === null) {
      ctx.addIssue({ code: 'custom', message: `expected a size like 4096, 0x1000 or 16MiB, got ${shown(s)}` });
      return z.NEVER;
    }
    return Number(m[1]) * UNITS[m[2] ?? '']!;
  }),
]);

const posInt = z.number({ error: (i) => `expected a positive integer, got ${shown(i.input)}` }).int().positive();
const nonNegInt = z.number({ error: (i) => `expected a non-negative integer, got ${shown(i.input)}` }).int().nonnegative();

/**
 * Bounds of what the model can run (validation bounds them so a run never breaks on a number the
 * scenario allowed). Configured times and latencies are at most 2^48 ns (about 3.3 days of virtual
 * time); the engine's horizon is 2^52 ns (src/sim/engine.ts), so start times plus many latencies
 * stay exact integers.
 */
export const MAX_CONFIG_NS = 2 ** 48;
/** A time or latency in ns: an integer in 0..2^48. */
const nsInt = nonNegInt.max(MAX_CONFIG_NS, `expected at most 2^48 ns (${MAX_CONFIG_NS}), the longest time a scenario may configure`);
const nsPos = posInt.max(MAX_CONFIG_NS, `expected at most 2^48 ns (${MAX_CONFIG_NS}), the longest time a scenario may configure`);
/** A count bounded by `max`, with the reason in the message. */
const countMax = (max: number, why: string) => posInt.max(max, `expected at most ${max} (${why})`);

/** A probability as an integer ratio "1/1000" (or 0 / 1). */
export const ratio = z.union([
  z.literal(0).transform(() => ({ num: 0, den: 1 })),
  z.literal(1).transform(() => ({ num: 1, den: 1 })),
  z.string().transform((s, ctx) => {
    const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(s);
    if (m === null || Number(m[2]) === 0 || Number(m[1]) > Number(m[2])) {
      ctx.addIssue({ code: 'custom', message: `expected a probability "num/den" with num <= den, got ${shown(s)}` });
      return z.NEVER;
    }
    // The seeded streams draw below(den) from 32 random bits (src/sim/random.ts).
    if (Number(m[2]) > 2 ** 32) {
      ctx.addIssue({ code: 'custom', message: `expected a denominator of at most 2^32 (4294967296), got ${m[2]}` });
      return z.NEVER;
    }
    return { num: Number(m[1]), den: Number(m[2]) };
  }),
]);
export type Ratio = { num: number; den: number };

export const latencySchema = z.discriminatedUnion('dist', [
  z.strictObject({ dist: z.literal('fixed'), ns: nsInt }),
  z.strictObject({ dist: z.literal('uniform'), min_ns: nsInt, max_ns: nsInt }).refine((v) => v.max_ns >= v.min_ns, {
    message: 'max_ns must be >= min_ns',
    path: ['max_ns'],
  }),
  z.strictObject({ dist: z.literal('exponential'), mean_ns: nsPos, min_ns: nsInt.optional() }),
  z.strictObject({
    dist: z.literal('lognormal'),
    median_ns: nsPos,
    // e^(10·z): a factor of 22 000 per standard deviation is far wider than any measured latency;
    // larger spreads only make samples overflow to the clamp.
    sigma: z.number().nonnegative().max(10, 'expected a sigma of at most 10 (e^10 per standard deviation)'),
    max_ns: nsPos.optional(),
  }),
  z.strictObject({
    dist: z.literal('empirical'),
    table: z
      .array(z.strictObject({ ns: nsInt, weight: z.number().nonnegative().max(1e15, 'expected a weight of at most 1e15') }))
      .min(1)
      .max(65536)
      .refine((t) => t.some((r) => r.weight > 0), { message: 'expected at least one row with a positive weight (all weights are 0)' }),
  }),
]);

const u = (min_ns: number, max_ns: number) => ({ dist: 'uniform' as const, min_ns, max_ns });

/** Stage latencies; defaults are the hardware reference's §5 ranges. */
export const latenciesSchema = z
  .strictObject({
    ats_ns: latencySchema.default(u(300, 1000)),
    page_request_ns: latencySchema.default(u(200, 500)),
    irq_ns: latencySchema.default(u(1000, 5000)),
    decode_ns: latencySchema.default(u(100, 500)),
    wq_dispatch_ns: latencySchema.default(u(1000, 5000)),
    minor_fault_ns: latencySchema.default(u(1000, 10000)),
    major_fault_ns: latencySchema.default({ dist: 'lognormal', median_ns: 200_000, sigma: 0.6, max_ns: 5_000_000 }),
    response_ns: latencySchema.default(u(500, 2000)),
    dma_ns: latencySchema.default(u(100, 300)),
    vmm_wake_ns: latencySchema.default(u(2000, 10000)),
    vmm_service_ns: latencySchema.default(u(5000, 50000)),
    guest_round_trip_ns: latencySchema.default(u(10000, 40000)),
    /**
     * A calibrated service time of the SVA handler for a whole group (what `iopf fit` measures
     * between a group's last report and its response). When set it replaces the per-fault
     * minor_fault_ns / major_fault_ns waits: the faults are still resolved against the mm, and the
     * group then takes one draw of this distribution.
     */
    sva_group_ns: latencySchema.optional(),
  })
  .prefault({});

const vtdSchema = z
  .strictObject({
    /** PQA size field X: the queue holds 2^(X+7) entries; Linux uses X=4 (2048 entries, 64 KiB). */
    prq_order: z.number().int().min(0).max(7).default(4),
    /** The same size as an entry count (a power of two from 128 to 16384); overrides prq_order. */
    prq_entries: posInt.optional(),
    /** Whether a response carries a PASID: `required` follows the device's bit (the seed's fix),
     * `request` whenever the request had one (mainline VT-d as read; bug vtd-response-pasid-always). */
    response_pasid: z.enum(['required', 'request']).default('required'),
    /** Whether hardware keeps writing entries while PRO is set ((verify) in the reference). */
    write_while_pro: z.boolean().default(false),
    /** Entries the PRQ thread handles per interrupt before re-reading the tail. */
    prq_batch: countMax(1 << 14, 'the largest PRQ holds 16384 entries').default(64),
  })
  .prefault({});

const smmuSchema = z
  .strictObject({
    priq_entries_log2: z.number().int().min(1).max(19).default(10),
    evtq_entries_log2: z.number().int().min(1).max(19).default(10),
    /** pri: PCIe PRI through the PRI queue; stall: the Arm stall model. */
    mode: z.enum(['pri', 'stall']).default('pri'),
    /** handle: report PRI faults to the core; fail: Linux's arm_smmu_handle_ppr (answer DENY).
     * Unset: the kernel profile's (form smmuv3-pri-deny); set: a what-if over the profile. */
    pri_policy: z.enum(['handle', 'fail']).optional(),
    /**
     * Whether the SMMU keeps writing PRI queue entries, once there is room, while an overflow is
     * not yet acknowledged ((verify), as VT-d's write_while_pro). false: every request in that
     * window is handled as at a full queue, so no group that started after the loss is reported
     * before the driver's discard_partial — a reused PRG index cannot meet the stale partials.
     */
    write_while_overflow: z.boolean().default(false),
  })
  .prefault({});

const amdSchema = z
  .strictObject({
    /**
     * PPR log length: the PPR Log Base Address Register (MMIO 0038h, AMD IOMMU spec 48882 §3.4)
     * encodes it as 2^PPRLen entries with PPRLen 1000b..1111b — 256 to 32768 entries, smaller
     * values reserved. Linux allocates 512 (PPR_LOG_SIZE in drivers/iommu/amd/amd_iommu_types.h).
     */
    ppr_log_entries: z
      .number()
      .int()
      .min(256, 'expected at least 256 entries (PPRLen 1000b; smaller lengths are reserved in the AMD IOMMU spec)')
      .max(1 << 15, 'expected at most 32768 entries (PPRLen 1111b)')
      .default(512),
    /** Whether the IOMMU auto-responds to a dropped L=1 request ((verify) in the reference). */
    overflow_autoresp: z.boolean().default(false),
  })
  .prefault({});

export const iommuSchema = z
  .strictObject({
    /** mock: the iommufd selftest's mock IOMMU (no hardware queue; faults come from a script's
     * trigger_iopf, as IOMMU_TEST_OP_TRIGGER_IOPF). */
    family: z.enum(['vtd', 'smmuv3', 'amd', 'mock']).default('vtd'),
    name: z.string().min(1).default('dmar0'),
    vtd: vtdSchema,
    smmuv3: smmuSchema,
    amd: amdSchema,
  })
  .prefault({});

const deviceSchema = z
  .strictObject({
    name: z.string().min(1),
    /** Requester ID (bus << 8 | dev << 3 | fn), or "bb:dd.f". */
    rid: z.union([
      z.number().int().min(0).max(0xffff),
      z.string().transform((s, ctx) => {
        const m = /^([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})\.([0-7])$/.exec(s);
        if (m === null) {
          ctx.addIssue({ code: 'custom', message: `expected a requester ID like "00:02.0" or a number, got ${shown(s)}` });
          return z.NEVER;
        }
        return (parseInt(m[1]!, 16) << 8) | (parseInt(m[2]!, 16) << 3) | Number(m[3]);
      }),
    ]),
    pasid: z
      .strictObject({
        width: z.number().int().min(1).max(20).default(20),
        exec_supported: z.boolean().default(true),
        priv_supported: z.boolean().default(true),
        exec_enabled: z.boolean().default(true),
        priv_enabled: z.boolean().default(true),
      })
      .prefault({}),
    pri: z
      .strictObject({
        /** Outstanding Page Request Capacity/Allocation are 32-bit registers (PCIe §10.5.2). */
        capacity: countMax(0xffff_ffff, 'a 32-bit register').default(512),
        allocation: countMax(0xffff_ffff, 'a 32-bit register').default(256),
        response_pasid_required: z.boolean().default(true),
      })
      .prefault({}),
    ats: z
      .strictObject({
        atc_entries: countMax(1 << 24, 'the model caches at most 2^24 translations per function').default(64),
        stu: z.number().int().min(0).max(31).default(0),
      })
      .prefault({}),
    /** A virtual function shares PRI with its physical function (iommufd refuses it, §9). */
    is_vf: z.boolean().default(false),
  })
  .refine((d) => d.pri.allocation <= d.pri.capacity, {
    message: 'pri.allocation must be <= pri.capacity (Outstanding Page Request Allocation cannot exceed Capacity)',
    path: ['pri', 'allocation'],
  })
  .refine((d) => d.pasid.exec_supported || !d.pasid.exec_enabled, {
    message: 'pasid.exec_enabled needs pasid.exec_supported',
    path: ['pasid', 'exec_enabled'],
  })
  .refine((d) => d.pasid.priv_supported || !d.pasid.priv_enabled, {
    message: 'pasid.priv_enabled needs pasid.priv_supported',
    path: ['pasid', 'priv_enabled'],
  });

const vmaSchema = z.strictObject({
  start: sizeLike,
  size: sizeLike,
  /** Any of r, w, x, e.g. "rw". */
  perms: z.string().regex(/^r?w?x?$/, 'expected permissions like "r", "rw", "rx" or "rwx"'),
  /** anon: first touch is a minor (zero-fill) fault; file: first touch is a major fault. */
  backing: z.enum(['anon', 'file']).default('anon'),
  /** Pages already present at start. */
  prefault: z.boolean().default(false),
});

const processSchema = z.strictObject({
  name: z.string().min(1),
  vmas: z.array(vmaSchema).min(1).max(64),
});

const accessSchema = z
  .strictObject({
    /** false: the traffic never requests Read (write-only DMA): write must then be 1 and exec 0. */
    read: z.boolean().default(true),
    /** Share of writes; "1/4" means a quarter of accesses write. */
    write: ratio.prefault(0),
    exec: ratio.prefault(0),
    priv: ratio.prefault(0),
  })
  .prefault({});

const workloadSchema = z
  .strictObject({
    device: z.string(),
    process: z.string(),
    /** Which of the process's VMAs the traffic targets (default: the first). */
    vma: nonNegInt.default(0),
    pattern: z.enum(['sequential', 'random', 'zipf', 'strided', 'burst']).default('sequential'),
    /** Zipf exponent (pattern zipf). */
    zipf_s: z.number().positive().default(1.1),
    /** Stride in pages (pattern strided). */
    stride_pages: posInt.default(16),
    /** Accesses per burst and gap between bursts (pattern burst). */
    burst_accesses: posInt.default(256),
    burst_gap_ns: nsInt.default(100_000),
    /** Accesses per microsecond on average (exponential inter-arrival). */
    rate_per_us: z
      .number()
      .min(1e-9, 'expected at least 1e-9 accesses per µs (one per 1000 s)')
      .max(1e6, 'expected at most 1e6 accesses per µs')
      .default(1),
    /**
     * Gap between accesses as a distribution (e.g. an empirical table fitted by `iopf fit`); when
     * set it replaces the exponential gaps at rate_per_us.
     */
    interarrival_ns: latencySchema.optional(),
    accesses: nonNegInt,
    start_ns: nsInt.default(0),
    /** Pages per page request group (the DMA engine's batching): requests 1..n-1 L=0, n-th L=1. */
    prg_pages: z.number().int().min(1).max(64).default(1),
    access: accessSchema,
    /** Use the PASID prefix (false: requests without PASID, to the device's non-PASID domain). */
    with_pasid: z.boolean().default(true),
  });

const actionSchema = z.discriminatedUnion('op', [
  z.strictObject({ op: z.literal('bind'), at_ns: nsInt, device: z.string(), process: z.string() }),
  z.strictObject({ op: z.literal('unbind'), at_ns: nsInt, device: z.string(), process: z.string() }),
  z.strictObject({ op: z.literal('exit'), at_ns: nsInt, process: z.string() }),
  z.strictObject({ op: z.literal('pri_disable'), at_ns: nsInt, device: z.string() }),
  z.strictObject({ op: z.literal('pri_enable'), at_ns: nsInt, device: z.string() }),
  z.strictObject({ op: z.literal('pri_reset'), at_ns: nsInt, device: z.string() }),
  z.strictObject({ op: z.literal('remove_device'), at_ns: nsInt, device: z.string() }),
  /**
   * iopf_queue_flush_dev(dev, pasid) on its own, as a driver calls it outside a detach (the seed:
   * "before shutting down the device"; AMD's detach_device: the whole device): `process` names the
   * PASID (the pair's attachment); without it, the whole device (no PASID). The caller's contract
   * is kept as drivers keep it: the device driver first stops what it flushes (the pair's
   * workloads and the function's use of the PASID, or all of the device's) and waits for the
   * function to be quiet; the flush comes then.
   */
  z.strictObject({ op: z.literal('flush'), at_ns: nsInt, device: z.string(), process: z.string().optional() }),
  z.strictObject({ op: z.literal('iommufd_close'), at_ns: nsInt, fault: z.string() }),
  z.strictObject({ op: z.literal('iommufd_destroy'), at_ns: nsInt, fault: z.string() }),
  z.strictObject({ op: z.literal('iommufd_detach'), at_ns: nsInt, device: z.string(), process: z.string() }),
  /** `fault`: the new hwpt's fault object (default: the same one; null: a hwpt without one). */
  z.strictObject({ op: z.literal('iommufd_replace'), at_ns: nsInt, device: z.string(), process: z.string(), fault: z.string().nullable().optional() }),
]);

const iommufdSchema = z.strictObject({
  /** Fault objects (one fd each) with their VMM responder. */
  faults: z
    .array(
      z.strictObject({
        name: z.string().min(1),
        /** Records read per read() call (buffer = batch × 40 bytes). */
        read_batch: countMax(1 << 16, 'a read() buffer of at most 64 Ki records').default(16),
        /** success / invalid: answer every group so; failure: try to answer FAILURE (the kernel
         * refuses it unless bug iommufd-accepts-failure); drop-and-close: read, never answer, close. */
        policy: z.enum(['success', 'invalid', 'failure', 'drop-and-close']).default('success'),
        /** The response buffer faults in user space (copy_from_user fails) with this probability. */
        bad_buffer: ratio.prefault(0),
        /** Forward to a guest (nested / vSVA): adds guest_round_trip_ns per group. */
        guest: z.boolean().default(false),
      }),
    )
    .default([]),
  /** (device, process) pairs whose PASID gets a fault-capable hwpt on `fault` instead of SVA. */
  /** (device, process) pairs whose PASID gets an iommufd hwpt instead of SVA: fault-capable on
   * `fault`, or — without `fault` — a plain paging hwpt whose domain has no iopf handler. */
  attach: z.array(z.strictObject({ device: z.string(), process: z.string(), fault: z.string().optional() })).default([]),
});

/**
 * A script: calls of a user-space actor on the iommufd uAPI (and the selftest's trigger, and raw
 * descriptor injection), each at a virtual time, with what the kernel must answer. Ids come out as
 * iommufd allocates them (from 1); `as: NAME` keeps a step's results so later steps can say
 * "$NAME" (its id) or "$NAME.FIELD".
 */
const scriptRef = z.union([
  nonNegInt,
  z.string().regex(/^\$[A-Za-z_][A-Za-z0-9_]*(\.[a-z_]+)?$/, 'expected a number or a reference like "$fq" or "$fq.fd"'),
]);
const errnoLike = z.union([
  z.number().int(),
  z.string().regex(/^-?E[A-Z0-9]+$/, 'expected a return value: a number or an errno name like EINVAL or -EBUSY'),
]);
const hwptFlagName = z.enum(['NEST_PARENT', 'DIRTY_TRACKING', 'FAULT_ID_VALID', 'PASID']);
const permName = z.enum(['R', 'W', 'X', 'PRIV']);
const recordMatch = z.strictObject({
  flags: nonNegInt.optional(),
  dev_id: scriptRef.optional(),
  pasid: nonNegInt.optional(),
  grpid: nonNegInt.optional(),
  perm: nonNegInt.optional(),
  addr: sizeLike.optional(),
  length: nonNegInt.optional(),
  cookie: scriptRef.optional(),
});
const responseMatch = z.strictObject({
  device: z.string().optional(),
  pasid: nonNegInt.optional(),
  grpid: nonNegInt.optional(),
  code: z.union([nonNegInt, z.enum(['SUCCESS', 'INVALID', 'FAILURE'])]).optional(),
});
export const scriptExpectSchema = z.strictObject({
  /** The call's return value: a number, or an errno name (EINVAL and -EINVAL mean -22). */
  ret: errnoLike.optional(),
  /** Ids and values the call hands out (fault_alloc: fault_id, fd; mock_domain: stdev_id, …). */
  id: scriptRef.optional(),
  fd: nonNegInt.optional(),
  fault_id: scriptRef.optional(),
  hwpt_id: scriptRef.optional(),
  stdev_id: scriptRef.optional(),
  idev_id: scriptRef.optional(),
  /** read(): the records decoded from the bytes read, field by field (only the fields given). */
  records: z.array(recordMatch).optional(),
  /** Page responses the IOMMU driver's page_response op received during this step, in order. */
  responses: z.array(responseMatch).optional(),
  /** poll(). */
  readable: z.boolean().optional(),
  writable: z.boolean().optional(),
  /** read(): the kernel as read never returns (a failed copy retried for ever). */
  hung: z.boolean().optional(),
});
const step = <O extends string, T extends z.ZodRawShape>(op: O, shape: T) =>
  z.strictObject({
    op: z.literal(op),
    /** When the call starts (default: right after the previous step returns). */
    at_ns: nonNegInt.optional(),
    as: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected a name like fq or hwpt1').optional(),
    expect: scriptExpectSchema.optional(),
    ...shape,
  });
export const scriptStepSchema = z.discriminatedUnion('op', [
  step('ioas_alloc', {}),
  step('bind', { device: z.string() }),
  step('mock_domain', { device: z.string(), pt: scriptRef }),
  step('fault_alloc', { flags: nonNegInt.default(0) }),
  step('hwpt_alloc', {
    device: scriptRef,
    pt: scriptRef,
    flags: z.union([nonNegInt, z.array(hwptFlagName)]).default(0),
    fault: scriptRef.optional(),
    data: z.boolean().default(false),
  }),
  step('attach', { device: scriptRef, pt: scriptRef, pasid: nonNegInt.optional() }),
  step('replace', { device: scriptRef, pt: scriptRef, pasid: nonNegInt.optional() }),
  step('detach', { device: scriptRef, pasid: nonNegInt.optional() }),
  step('destroy', { id: scriptRef }),
  step('trigger_iopf', {
    device: scriptRef,
    /** Absent or 0 (IOMMU_NO_PASID): a fault without PASID. */
    pasid: nonNegInt.optional(),
    grpid: nonNegInt,
    perm: z.union([nonNegInt, z.array(permName)]),
    addr: sizeLike,
    last: z.boolean().default(true),
  }),
  step('read', { fd: scriptRef, count: nonNegInt, fault_at_record: nonNegInt.optional() }),
  step('write', {
    fd: scriptRef,
    responses: z.array(z.strictObject({ cookie: scriptRef, code: nonNegInt })),
    fault_at_record: nonNegInt.optional(),
  }),
  step('poll', { fd: scriptRef }),
  step('close', { fd: scriptRef }),
  step('inject_raw', { hex: z.string().regex(/^(?:[0-9a-fA-F]{2}[\s_]*)+$/, 'expected hex bytes like "01 02 ff"') }),
]);

/** Named fault sites that a run switches on with a probability (FoundationDB style). */
const faultSitesSchema = z
  .strictObject({
    /** kzalloc of a partial fault or group fails (iommu_report_device_fault → -ENOMEM / abort group). */
    alloc_failure: ratio.prefault(0),
    /** A handler takes slow_handler_ns extra. */
    slow_handler: ratio.prefault(0),
    slow_handler_ns: latencySchema.default({ dist: 'uniform', min_ns: 100_000, max_ns: 1_000_000 }),
    /** The mm fault handler fails (VM_FAULT_ERROR → INVALID). */
    mm_fault_error: ratio.prefault(0),
  })
  .prefault({});

export const scenarioSchema = z.strictObject({
  name: z.string().min(1).default('unnamed'),
  description: z.string().default(''),
  /** Kernel profile (reference §0; `iopf list profiles`): `reference` is the contract the rules
   * demand, the others are the kernels they name, bugs included. */
  kernel: z.enum(PROFILE_NAMES).default('reference'),
  seed: nonNegInt.optional(),
  /** Virtual time to stop at (the run also stops when nothing is left to do). */
  until_ns: posInt.max(2 ** 52, 'expected at most 2^52 ns (the engine\'s time horizon)').optional(),
  limits: z
    .strictObject({
      max_events: posInt.default(200_000_000),
      max_pending: posInt.default(1 << 22),
    })
    .prefault({}),
  check: z.enum(['off', 'cheap', 'full']).default('full'),
  /** Known-bug variants switched on (see `iopf list bugs`). */
  bugs: z.array(z.string()).default([]),
  iommu: iommuSchema,
  iopf: z
    .strictObject({
      /** Workqueue max_active of the fault queue; the kernel clamps max_active to WQ_MAX_ACTIVE
       * (2048, enum wq_consts in include/linux/workqueue.h; wq_clamp_max_active in kernel/workqueue.c). */
      workers: countMax(2048, 'WQ_MAX_ACTIVE: the kernel clamps a workqueue\'s max_active to 2048').default(4),
    })
    .prefault({}),
  devices: z.array(deviceSchema).min(1).max(256),
  processes: z.array(processSchema).max(4096).default([]),
  /** Initial SVA binds at time 0 (device, process). */
  binds: z.array(z.strictObject({ device: z.string(), process: z.string() })).default([]),
  workloads: z.array(workloadSchema).default([]),
  actions: z.array(actionSchema).default([]),
  latency: latenciesSchema,
  iommufd: iommufdSchema.prefault({}),
  faults: faultSitesSchema,
  /** Calls on the iommufd uAPI at given virtual times, each with its expected result. */
  script: z.array(scriptStepSchema).default([]),
});

export type ScenarioInput = z.input<typeof scenarioSchema>;
/** A validated scenario; the loader adds where each script step is in its file (for SCRIPT.EXPECT). */
export type Scenario = z.output<typeof scenarioSchema> & { scriptSource?: { file: string; lines: number[] } };
export type ScriptStep = z.output<typeof scriptStepSchema>;
export type ScriptExpect = z.output<typeof scriptExpectSchema>;
export type DeviceConfig = Scenario['devices'][number];
export type ProcessConfig = Scenario['processes'][number];
export type WorkloadConfig = Scenario['workloads'][number];
export type ActionConfig = Scenario['actions'][number];
export type LatencyConfig = Scenario['latency'];
