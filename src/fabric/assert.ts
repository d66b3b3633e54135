/**
 * The one assertion of p2psim. A failed assertion is a bug in p2psim (or misuse of its API), never
 * a modelled failure: modelled failures (an errno, a UR completion, an IOMMU fault) are values.
 */

/** Thrown by {@link assert}; carries the message and nothing else so it is cheap to build. */
export class AssertionError extends Error {
  override name = "AssertionError";
}

/**
 * Throws {@link AssertionError} with `message` when `condition` is false.
 * Split compound conditions into several calls so the message says which part failed.
 * @param condition what must hold.
 * @param message what was expected, in a few words; a function is called only on failure.
 */
export function assert(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) {
    throw new AssertionError(typeof message === "string" ? message : message());
  }
}

/**
 * Marks a branch that the type system proves unreachable (an exhausted union).
 * @throws AssertionError always, naming the unexpected value.
 */
export function unreachable(value: never, what = "value"): never {
  throw new AssertionError(`unexpected ${what}: ${JSON.stringify(value)}`);
}
