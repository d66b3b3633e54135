/**
 * The `vfio` layer's trace kinds, in one place so a monitor author can read them at once. Every
 * event names the device (the function's label, `gpu0`) and, where one export is concerned, the
 * dma-buf (`gpu0/bar1#0`).
 */
declare module "../fabric/trace.js" {
  interface TraceKinds {
    vfio: VfioTraceKinds;
  }
}

/** The events of src/vfio. */
export interface VfioTraceKinds {
  open: { device: string };
  "close.begin": { device: string };
  "close.done": { device: string };
  /** A successful `VFIO_DEVICE_FEATURE_DMA_BUF`: the export is linked with its initial `revoked` state (I7). */
  /** `ranges`: BAR offsets of the export (I1, I10); `barSize`: its BAR's size (I10). */
  export: {
    device: string;
    buf: string;
    bar: number;
    size: number;
    fd: number;
    revoked: boolean;
    memoryEnabled: boolean;
    ranges: { offset: number; length: number }[];
    barSize: number;
  };
  "export.failed": { device: string; step: number; errno: string };
  "memory_lock.down_write": { device: string; holder: string };
  "memory_lock.up_write": { device: string; holder: string };
  "memory_lock.down_read": { device: string; holder: string };
  "memory_lock.up_read": { device: string; holder: string };
  "memory_lock.trylock.failed": { device: string; holder: string; writer: string | null; readers: number };
  /** One export's revoke starts (memory_lock held for write) [kernel.md §c.4]. */
  revoke: { device: string; buf: string };
  /** One export's revoke returned: under the default profile no importer accesses it any more (I1). */
  "revoke.done": { device: string; buf: string };
  /** One export is usable again (memory enabled after the hardware change) [kernel.md §c.4]. */
  restore: { device: string; buf: string };
  /** Close's permanent revoke of one export: unlinked, registration dropped, owner cleared. */
  cleanup: { device: string; buf: string };
  /** The hardware change of a command-register write. */
  "command.write": { device: string; memory: boolean };
  /** The hardware change of a PM write (after the transition delay for D0). */
  "power.set": { device: string; state: string };
  "reset.begin": { device: string; method: "flr" | "bus" };
  "reset.end": { device: string; method: "flr" | "bus" };
  "low-power.entry": { device: string };
  "low-power.exit": { device: string };
  "hot-reset.begin": { devices: string[] };
  "hot-reset.done": { devices: string[]; errno: string | null };
  /** A trigger that did nothing (no FLR capability: the write is dropped, errno null; reset not supported; already in low power). */
  "trigger.refused": { device: string; trigger: string; errno: string | null };
  "registration.get": { device: string; refs: number };
  "registration.put": { device: string; refs: number };
  /** `kref_put` on a count already at zero (refcount_t warns and saturates): E13. */
  "kref.underflow": { buf: string };
  /** The private object is freed; `frees` above 1 is a double free (I8, E10). */
  "priv.free": { buf: string; frees: number };
  /** Release unlinks the export from its device, under memory_lock [kernel.md §c.3, §c.5]. */
  "release.unlink": { device: string; buf: string };
}
