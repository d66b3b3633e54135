/**
 * The paths a {@link DmaPort} gives its TLPs, each a {@link StablePath}: one hidden class for
 * every TLP's `path`, which keeps the fabric's per-hop reads monomorphic.
 */
import type { BusPath, BusRoute } from "./dma-bus.js";

/**
 * A {@link BusPath} copied into one class, so that every TLP's `path` has one hidden class. The
 * bus builds its paths by spreading, and as a run's routes are created V8 gives those objects
 * several hidden classes in turn; the fabric reads `path.kinds` and `path.links` at every hop, and
 * once those reads had seen five classes they went megamorphic (a hash-table probe per read).
 */
export class StablePath implements BusPath {
  readonly hops: BusPath["hops"];
  readonly kinds: BusPath["kinds"];
  readonly links: BusPath["links"];
  readonly expressAt: BusPath["expressAt"];
  readonly route: BusRoute;

  constructor(path: BusPath) {
    this.hops = path.hops;
    this.kinds = path.kinds;
    this.links = path.links;
    this.expressAt = path.expressAt;
    this.route = path.route;
  }
}

/** {@link StablePath}s by the bus's path, remembering the last one asked for (consecutive TLPs mostly share a path). */
export class StablePaths {
  private readonly paths = new Map<BusPath, StablePath>();
  private lastPath: BusPath | undefined = undefined;
  private lastStable: StablePath | undefined = undefined;

  /** The {@link StablePath} of `path`, made on first use. */
  of(path: BusPath): StablePath {
    if (path === this.lastPath) return this.lastStable as StablePath;
    let stable = this.paths.get(path);
    if (stable === undefined) {
      stable = new StablePath(path);
      this.paths.set(path, stable);
    }
    this.lastPath = path;
    this.lastStable = stable;
    return stable;
  }
}
