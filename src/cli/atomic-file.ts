/**
 * Output files appear whole or not at all: content goes to a temporary name beside the target
 * and is renamed over it at the end, so an interrupted or failed run never leaves a partial file.
 */
import { closeSync, openSync, renameSync, rmSync, writeSync } from "node:fs";

/** A file being written; call {@link AtomicFile.commit} to publish it or {@link AtomicFile.abort} to drop it. */
export class AtomicFile {
  private readonly temporaryPath: string;
  private fd: number | undefined;

  /** Opens a temporary file beside `path`. @throws the file system's error when it cannot. */
  constructor(readonly path: string) {
    this.temporaryPath = `${path}.tmp-${process.pid}`;
    this.fd = openSync(this.temporaryPath, "w");
  }

  /** Appends text. */
  write(text: string): void {
    if (this.fd === undefined) throw new Error(`write to ${this.path} after commit or abort`);
    writeSync(this.fd, text);
  }

  /** Closes the temporary file and renames it to the target path. */
  commit(): void {
    if (this.fd === undefined) throw new Error(`commit of ${this.path} after commit or abort`);
    closeSync(this.fd);
    this.fd = undefined;
    renameSync(this.temporaryPath, this.path);
  }

  /** Closes and deletes the temporary file; the target is left as it was. Safe to call twice. */
  abort(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
    rmSync(this.temporaryPath, { force: true });
  }
}

/** Writes text to `path` whole or not at all. @throws the file system's error (nothing is left behind). */
export function writeFileAtomic(path: string, text: string): void {
  const file = new AtomicFile(path);
  try {
    file.write(text);
    file.commit();
  } finally {
    file.abort();
  }
}
