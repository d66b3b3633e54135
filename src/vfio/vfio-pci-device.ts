/**
 * A vfio-pci device over one PCI function (`struct vfio_pci_core_device`): open and close, the
 * `VFIO_DEVICE_FEATURE_DMA_BUF` export [kernel.md §c.2, §c.3], the per-device list of exports,
 * the registration reference count, and `memory_lock` [§c.5]. The revoke triggers of §c.4 are
 * methods here whose bodies live in revoke-triggers.ts; the hot reset of a dev_set is in
 * hot-reset.ts.
 *
 * Memory state: the emulated command register's MEM bit (`vconfig`, created at open, gone at
 * close) and the function's power state decide `__vfio_pci_memory_enabled`; the function's own
 * `memoryEnabled` / `powerState` / `inReset` are the hardware, which the transport answers with UR.
 */

import { dmaBufPut, exportDmaBuf } from "../dmabuf/dma-buf.js";
import type { Result } from "../dmabuf/errno.js";
import type { DmaIommu, PhysVec } from "../dmabuf/map.js";
import { assert } from "../fabric/assert.js";
import type { Engine } from "../fabric/engine.js";
import type { ProcessBody } from "../fabric/process.js";
import { type P2pdma, type P2pdmaProvider, p2pdmaProvider } from "../pci/p2pdma.js";
import type { PciFunction } from "../pci/topology.js";
import { VFIO_PCI_DMABUF_OPS, type VfioDmaBufOwner, VfioPciDmaBuf, vfioPciDmaBufFree } from "./dmabuf-export.js";
import { type VfioMoveContext, vfioPciDmaBufCleanup } from "./dmabuf-move.js";
import { FdTable } from "./fd-table.js";
import { type DmaBufRequest, dmaBufBarFromPci, validateDmaBufFeature } from "./feature-dma-buf.js";
import { MemoryLock } from "./memory-lock.js";
import { type VfioOptions, type VfioSettings, vfioSettings } from "./profiles.js";
import {
  powerStateRank,
  type TriggerBody,
  vfioCommandWrite,
  vfioDeviceReset,
  vfioFlrWrite,
  vfioLowPowerEntry,
  vfioLowPowerExit,
  vfioPowerWrite,
} from "./revoke-triggers.js";
import "./trace-kinds.js";
import { failed, OK, spawnVfioOp, type VfioOp, type VfioOpBody } from "./vfio-op.js";

/** What a device is built over. */
export interface VfioPciDeviceConfig {
  /** The machine's p2pdma state (its map-type cache decides every mapping). */
  readonly p2pdma: P2pdma;
  /** The IOMMU importers translate through, if any. */
  readonly iommu?: DmaIommu;
  /** The user process's fds; default a fresh table of 1024. */
  readonly fdTable?: FdTable;
  readonly options?: VfioOptions;
}

/** A vfio-pci device. */
export class VfioPciDevice implements VfioDmaBufOwner, VfioMoveContext {
  readonly settings: VfioSettings;
  readonly memoryLock: MemoryLock;
  readonly fdTable: FdTable;
  /** `vdev->dmabufs`, in export order. */
  readonly exportList: VfioPciDmaBuf[] = [];
  /** Config-emulation and ioctl requests running, per process name (see {@link trigger}). */
  private readonly triggersRunning = new Map<string, number>();
  /** Whether a user has the device open. */
  opened = false;
  /** The emulated command register's MEM bit; undefined while the device is not open (no vconfig). */
  vconfigMemory: boolean | undefined;
  /** `vdev->pm_runtime_engaged`: the user asked for low power. */
  lowPowerEngaged = false;
  /** The registration reference count: 1 for the registration itself, +1 per live export (I8). */
  registrationRefs = 1;
  registrationGets = 0;
  registrationPuts = 0;
  private exportSeq = 0;

  constructor(
    readonly engine: Engine,
    readonly fn: PciFunction,
    readonly config: VfioPciDeviceConfig,
  ) {
    this.settings = vfioSettings(config.options);
    this.fdTable = config.fdTable ?? new FdTable();
    this.memoryLock = new MemoryLock(engine, fn.label, (holder) => this.exportList.some((p) => p.dmabuf.resv.holder === holder));
  }

  /** The function's label (`gpu0`). */
  get label(): string {
    return this.fn.label;
  }

  /**
   * `__vfio_pci_memory_enabled`: power state below D3hot and the emulated MEM bit set.
   * @throws AssertionError when the device is not open: there is no emulated config to read (E9).
   */
  memoryEnabled(): boolean {
    assert(this.vconfigMemory !== undefined, () => `${this.label}: memory state read on a device that is not open (no vconfig, E9)`);
    return powerStateRank(this.fn.powerState) < powerStateRank("D3hot") && this.vconfigMemory;
  }

  /**
   * Opens the device: the emulated config starts as a copy of the function's command register.
   * @throws AssertionError when it is already open.
   */
  open(): void {
    assert(!this.opened, () => `${this.label} opened twice`);
    this.opened = true;
    this.vconfigMemory = this.fn.memoryEnabled;
    this.engine.trace.emit("vfio", "open", { device: this.label });
  }

  /**
   * Closes the device (`vfio_pci_core_close_device`): under memory_lock, every export is revoked
   * for good, unlinked, its registration dropped and its owner cleared; its fd stays valid but
   * attach and map fail forever. Then the emulated config is freed.
   * @returns the request; its result is always ok, unless it hangs (mutant E13).
   * @throws AssertionError when the device is not open.
   */
  close(): VfioOp {
    assert(this.opened, () => `close of ${this.label}, which is not open`);
    return spawnVfioOp(this.engine, `${this.label}:close`, (op) => this.closeBody(op.name));
  }

  private *closeBody(holder: string) {
    this.engine.trace.emit("vfio", "close.begin", { device: this.label });
    yield this.memoryLock.downWrite(holder);
    yield* vfioPciDmaBufCleanup(this, holder);
    this.memoryLock.upWrite(holder);
    this.opened = false;
    this.vconfigMemory = undefined;
    this.lowPowerEngaged = false;
    this.engine.trace.emit("vfio", "close.done", { device: this.label });
    return OK;
  }

  /**
   * The `VFIO_DEVICE_FEATURE` ioctl with `bytes`, for `VFIO_DEVICE_FEATURE_DMA_BUF`, from code that
   * cannot wait: memory_lock must be free. Validation [§c.2], then: export the dma-buf with the
   * VFIO ops, take one registration reference, link it under memory_lock and resv with
   * `revoked` = memory disabled (I7), install the fd.
   * @returns the fd (0 for a PROBE), or the errno of the first failing step; an fd failure
   * (EMFILE) drops the dma-buf, whose release undoes the rest.
   * @throws AssertionError when the device is not open or memory_lock is busy.
   */
  deviceFeature(bytes: Uint8Array): Result<number> {
    const holder = `${this.label}:feature`;
    const prepared = this.prepareExport(bytes);
    if (prepared.ok !== "export") return prepared;
    this.memoryLock.downWriteNow(holder);
    const memoryEnabled = this.linkExport(prepared.priv, holder, undefined);
    this.memoryLock.upWrite(holder);
    return this.installFd(prepared.priv, memoryEnabled);
  }

  /**
   * {@link deviceFeature} as a process, for callers racing a trigger: it waits for memory_lock.
   * Under mutant E7 the initial state is read before the wait, so an export racing a MEM clear
   * keeps `revoked = false` (I7).
   */
  deviceFeatureProcess(bytes: Uint8Array): VfioOp<number> {
    return spawnVfioOp(this.engine, `${this.label}:feature`, (op) => this.featureBody(bytes, op.name));
  }

  private *featureBody(bytes: Uint8Array, holder: string) {
    const prepared = this.prepareExport(bytes);
    if (prepared.ok !== "export") return prepared;
    const early = this.settings.mutants.has("E7") ? !this.memoryEnabled() : undefined;
    yield this.memoryLock.downWrite(holder);
    const memoryEnabled = this.linkExport(prepared.priv, holder, early);
    this.memoryLock.upWrite(holder);
    return this.installFd(prepared.priv, memoryEnabled);
  }

  /** Validation and `dma_buf_export` (steps 1-12 up to the fd), taking the registration reference. */
  private prepareExport(bytes: Uint8Array): Result<number> | { readonly ok: "export"; readonly priv: VfioPciDmaBuf } {
    assert(this.opened, () => `VFIO_DEVICE_FEATURE on ${this.label}, which is not open`);
    const verdict = validateDmaBufFeature(bytes, {
      hasGetDmabufPhys: this.settings.hasGetDmabufPhys,
      bar: (index) => {
        const bar = this.fn.bars.find((b) => b.index === index);
        return bar === undefined ? undefined : dmaBufBarFromPci(bar, true);
      },
      registrationAvailable: this.registrationRefs > 0,
    });
    if (!verdict.ok) {
      this.engine.trace.emit("vfio", "export.failed", { device: this.label, step: verdict.step, errno: verdict.errno });
      return failed(verdict.errno);
    }
    if (verdict.probe) return { ok: true, value: 0 };
    const priv = this.createPriv(verdict.request);
    this.registrationGet();
    priv.setDmaBuf(exportDmaBuf(this.engine, { name: priv.name, size: priv.size, ops: VFIO_PCI_DMABUF_OPS, priv }));
    return { ok: "export", priv };
  }

  private createPriv(request: DmaBufRequest): VfioPciDmaBuf {
    const physVec: PhysVec[] = request.physVec.map(({ paddr, len }) => {
      assert(paddr + len <= BigInt(Number.MAX_SAFE_INTEGER), "BAR ranges above 2^53 are outside the model's number range");
      return { paddr: Number(paddr), len: Number(len) };
    });
    const size = physVec.reduce((sum, range) => sum + range.len, 0);
    const { p2pdma, iommu } = this.config;
    const chunkBytes = this.settings.chunkBytes;
    return new VfioPciDmaBuf({
      name: `${this.label}/bar${request.regionIndex}#${this.exportSeq++}`,
      owner: this,
      barIndex: request.regionIndex,
      physVec,
      size,
      provider: this.provider(request.regionIndex),
      mapOptions: { p2pdma, ...(iommu === undefined ? {} : { iommu }), ...(chunkBytes === undefined ? {} : { chunkBytes }) },
      requireRevocable: this.settings.profile === "vfio-dmabuf-wait",
    });
  }

  /** `pcim_p2pdma_provider(pdev, bar)`; under mutant E27 the device's one provider, with BAR 0's bus offset. */
  private provider(barIndex: number): P2pdmaProvider {
    const provider = p2pdmaProvider(this.fn, barIndex);
    assert(provider !== undefined, () => `${this.label} BAR${barIndex}: validation passed a BAR without a provider`);
    if (!this.settings.mutants.has("E27")) return provider;
    const first = this.fn.bars.find((b) => b.type !== "io");
    assert(first !== undefined, "a device with a provider has a memory BAR");
    return { fn: provider.fn, barIndex: provider.barIndex, busOffset: first.busAddress - first.cpuAddress };
  }

  /** Links `priv` under memory_lock and resv; `revoked` is the memory state now, or `early` (E7). Returns the memory state. */
  private linkExport(priv: VfioPciDmaBuf, holder: string, early: boolean | undefined): boolean {
    this.memoryLock.assertWriteHeld(holder);
    const resv = priv.dmabuf.resv;
    resv.lock(holder);
    const memoryEnabled = this.memoryEnabled();
    priv.revoked = early ?? !memoryEnabled;
    this.exportList.push(priv);
    priv.linked = true;
    resv.unlock(holder);
    return memoryEnabled;
  }

  /** `dma_buf_fd`; on failure the dma-buf is dropped (its release undoes the rest) — and again by hand under mutant E10. */
  private installFd(priv: VfioPciDmaBuf, memoryEnabled: boolean): Result<number> {
    const buf = priv.dmabuf;
    const fd = this.fdTable.install(buf);
    if (fd.ok) {
      // ranges: BAR offsets, what I1 compares a `pci/tlp`'s `barOffset` with [kernel.md §f I1];
      // barSize: what I10 checks them against.
      const fields = {
        device: this.label,
        buf: priv.name,
        bar: priv.barIndex,
        size: priv.size,
        fd: fd.value,
        revoked: priv.revoked,
        memoryEnabled,
        ranges: this.barRanges(priv),
        barSize: this.fn.bars.find((b) => b.index === priv.barIndex)?.sizeBytes ?? 0,
      };
      this.engine.trace.emit("vfio", "export", fields);
      return fd;
    }
    this.engine.trace.emit("vfio", "export.failed", { device: this.label, step: 12, errno: fd.errno });
    buf.resv.assertNotHeld();
    // dma_buf_put(priv->dmabuf): the release op unlinks, puts the registration and frees priv.
    dmaBufPut(buf);
    if (this.settings.mutants.has("E10")) {
      // The fall-through into err_dev_put and err_free_priv of the first versions.
      this.registrationPut();
      vfioPciDmaBufFree(priv);
    }
    return failed(fd.errno);
  }

  /** The export's ranges as offsets in its BAR (`phys_vec` minus the BAR's CPU address). */
  private barRanges(priv: VfioPciDmaBuf): { offset: number; length: number }[] {
    const base = this.fn.bars.find((b) => b.index === priv.barIndex)?.cpuAddress ?? 0;
    return priv.physVec.map(({ paddr, len }) => ({ offset: paddr - base, length: len }));
  }

  /** `vfio_device_try_get_registration` after validation saw it available. */
  private registrationGet(): void {
    assert(this.registrationRefs > 0, () => `${this.label}: registration get on a device going away`);
    this.registrationRefs++;
    this.registrationGets++;
    this.engine.trace.emit("vfio", "registration.get", { device: this.label, refs: this.registrationRefs });
  }

  /** `vfio_device_put_registration`. Counts below the registration's own reference are visible, not thrown (E10). */
  registrationPut(): void {
    this.registrationRefs--;
    this.registrationPuts++;
    this.engine.trace.emit("vfio", "registration.put", { device: this.label, refs: this.registrationRefs });
  }

  /** `list_del_init(&priv->dmabufs_elm)`. @throws AssertionError when `priv` is not on the list. */
  unlink(priv: VfioPciDmaBuf): void {
    const index = this.exportList.indexOf(priv);
    assert(index >= 0 && priv.linked, () => `${priv.name} unlinked but not on ${this.label}'s list`);
    this.exportList.splice(index, 1);
    priv.linked = false;
  }

  /** See {@link VfioDmaBufOwner.releaseExport}: at once when memory_lock is free, else in a process that waits for it. */
  releaseExport(priv: VfioPciDmaBuf, free: () => void): void {
    const holder = `${priv.name}:release`;
    const finish = () => {
      this.unlink(priv);
      this.engine.trace.emit("vfio", "release.unlink", { device: this.label, buf: priv.name });
      this.memoryLock.upWrite(holder);
      this.registrationPut();
      free();
    };
    if (this.memoryLock.free) {
      this.memoryLock.downWriteNow(holder);
      finish();
      return;
    }
    this.engine.spawn(holder, () => lockThen(this.memoryLock, holder, finish));
  }

  /** Command-register write setting or clearing MEM through the config emulation [§c.4]. */
  writeCommandMemory(enable: boolean): VfioOp {
    return this.trigger("command.write", (holder) => vfioCommandWrite(this, enable, holder));
  }

  /** PM capability write of a power state (D3hot entry revokes; back to D0 restores) [§c.4]. */
  writePowerState(state: PciFunction["powerState"]): VfioOp {
    return this.trigger("pm.write", (holder) => vfioPowerWrite(this, state, holder));
  }

  /** PCIe DevCtl "initiate FLR" write through the config emulation [§c.4]; ignored without FLR capability. */
  writeDevCtlFlr(): VfioOp {
    return this.trigger("flr.write", (holder) => vfioFlrWrite(this, holder));
  }

  /** The `VFIO_DEVICE_RESET` ioctl [§c.4]: -EINVAL when the function cannot be reset. */
  deviceReset(): VfioOp {
    return this.trigger("reset", (holder) => vfioDeviceReset(this, holder));
  }

  /** `VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY` [§c.4]: revokes; -EINVAL when already in low power. */
  lowPowerEntry(): VfioOp {
    return this.trigger("low-power.entry", (holder) => vfioLowPowerEntry(this, holder));
  }

  /** `VFIO_DEVICE_FEATURE_LOW_POWER_EXIT` [§c.4]: restores if memory is enabled. */
  lowPowerExit(): VfioOp {
    return this.trigger("low-power.exit", (holder) => vfioLowPowerExit(this, holder));
  }

  private trigger(name: string, body: (holder: string) => TriggerBody): VfioOp {
    assert(this.opened, () => `${name} on ${this.label}, which is not open`);
    // Two requests of one kind may run at once (a MEM set while a MEM clear still waits for a
    // slow importer): each must be its own lock holder, so the second gets a suffix.
    const base = `${this.label}:${name}`;
    const running = this.triggersRunning.get(base) ?? 0;
    this.triggersRunning.set(base, running + 1);
    return spawnVfioOp(this.engine, running === 0 ? base : `${base}#${running + 1}`, (op) => runTrigger(op, body, this.triggersRunning, base));
  }
}

// The process bodies below are module-level generators, not `function*` closures per call: V8
// gives each generator closure its own initial map in old space, which keeps the closure's
// captures (the device, hence the whole run) alive through every later scavenge.

/** A trigger's request: runs `body` under the request's name, then counts the request out. */
function* runTrigger(op: VfioOp, body: (holder: string) => TriggerBody, running: Map<string, number>, base: string): VfioOpBody<void> {
  const errno = yield* body(op.name);
  running.set(base, (running.get(base) ?? 1) - 1);
  return errno === undefined ? OK : failed<void>(errno);
}

/** Takes `lock` for write as `holder`, then calls `finish` (which releases it). */
function* lockThen(lock: MemoryLock, holder: string, finish: () => void): ProcessBody {
  yield lock.downWrite(holder);
  finish();
}
