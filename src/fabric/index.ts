/**
 * `src/fabric`: the deterministic discrete-event engine every other layer runs on. It knows
 * nothing about PCI.
 *
 * Lifecycle of a run:
 * 1. Create one {@link Engine} with the run's seed (`new Engine({ seed })`).
 * 2. Model objects take named random streams (`engine.rng.stream("nic0/wqe")`) and register
 *    their event handlers (`engine.handler(fn)`) once, at construction.
 * 3. Sinks subscribe to `engine.trace` (monitors, recorders, writers).
 * 4. The model schedules events (`at`, `after`, `schedule`) and spawns processes (`spawn`),
 *    which wait on `sleep`, {@link Signal}, {@link Condition} and {@link Resource}.
 * 5. A run loop (`run`, `runUntil`, `runUntilQuiet`, `step`) fires events in (time, seq) order.
 * 6. `engine.trace.fingerprint.hex()` names what happened: same seed and scenario ⇒ same value.
 */
export { AssertionError, assert, unreachable } from "./assert.js";
export { Engine, type EngineOptions, type HandlerId, type RunOutcome, type RunStatus } from "./engine.js";
export { type EventId, EventQueue, PENDING_EVENTS_MAX } from "./event-queue.js";
export { Fingerprint } from "./fingerprint.js";
export { Process, type ProcessBody, Processes, type ProcessState, type Suspension, sleep } from "./process.js";
export { TraceRecorder } from "./recorder.js";
export { Resource } from "./resource.js";
export { assertSeed, RngStream, RunRng, type Seed } from "./rng.js";
export { Condition, Signal } from "./signal.js";
export { formatTime, ms, ns, ps, TIME_MAX, TIME_ZERO, type TimePs, us } from "./time.js";
export { TraceBus, type TraceClock, type TraceEvent, type TraceFields, type TraceKinds, type TraceLayer, type TraceSink, type TraceValue } from "./trace.js";
