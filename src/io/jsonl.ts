/**
 * The JSON-lines trace writer: one event per line, fields in emission order (`t`, `seq`,
 * `layer`, `kind`, then the kind's fields). Where the lines go is the caller's business (a file
 * opened by the CLI, a buffer in a test), so this module never touches the file system.
 */
import type { TraceBus, TraceEvent } from "../fabric/trace.js";

/** Formats one event as a JSON line (with the trailing newline). */
export function traceEventLine(event: TraceEvent): string {
  return `${JSON.stringify(event)}\n`;
}

/**
 * Subscribes a JSON-lines writer to `bus`.
 * @param write receives each line, in order.
 * @returns a function that unsubscribes the writer.
 */
export function writeTraceJsonLines(bus: TraceBus, write: (line: string) => void): () => void {
  return bus.subscribe((event) => write(traceEventLine(event)));
}
