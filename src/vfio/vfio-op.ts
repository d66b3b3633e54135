/**
 * A user request to a vfio-pci device that takes simulated time (a config write that resets the
 * function, an ioctl that waits for importers, close): a process plus the value the syscall
 * returns once it finishes. Expected failures are errno values in {@link VfioOp.result}.
 */
import type { Errno, Result } from "../dmabuf/errno.js";
import { assert } from "../fabric/assert.js";
import type { Engine } from "../fabric/engine.js";
import type { Process, ProcessBody, Suspension } from "../fabric/process.js";

/** A request's body: a process body that returns the syscall's result. */
export type VfioOpBody<T> = Generator<Suspension, Result<T>, unknown>;

/** One request in flight or finished. */
export class VfioOp<T = void> {
  /** The syscall's return value once the process finished; undefined while it runs (or hangs). */
  result: Result<T> | undefined;
  /** The process running the request; `yield op.process.join()` waits for it. */
  process!: Process;

  constructor(
    /** The process name, e.g. `gpu0:command.write`; also the lock holder name. */
    readonly name: string,
  ) {}

  /** Whether the request has returned. */
  get done(): boolean {
    return this.result !== undefined;
  }

  /** Sets the return value once. @throws AssertionError on a second set. */
  finish(result: Result<T>): void {
    assert(this.result === undefined, () => `${this.name} returned twice`);
    this.result = result;
  }
}

/** Success without a value. */
export const OK: Result<void> = { ok: true, value: undefined };

/** A failure result. */
export function failed<T>(errno: Errno): Result<T> {
  return { ok: false, errno };
}

/**
 * Spawns `body` as the process of a new {@link VfioOp} named `name`, starting now.
 * @param body returns the syscall's result when it finishes.
 */
export function spawnVfioOp<T>(engine: Engine, name: string, body: (op: VfioOp<T>) => VfioOpBody<T>): VfioOp<T> {
  const op = new VfioOp<T>(name);
  op.process = engine.spawn(name, () => runOp(op, body));
  return op;
}

/**
 * The process of {@link spawnVfioOp}. A module-level generator, not a `function*` closure per
 * request: V8 gives each generator closure its own initial map in old space, which keeps the
 * closure's captures (the device, hence the whole run) alive through every later scavenge.
 */
function* runOp<T>(op: VfioOp<T>, body: (op: VfioOp<T>) => VfioOpBody<T>): ProcessBody {
  op.finish(yield* body(op));
}
