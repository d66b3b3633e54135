/**
 * A user process's file descriptors for dma-bufs: `dma_buf_fd` installs the export's reference
 * as an fd, `dma_buf_get(fd)` gives an importer its own reference, and `close(fd)` drops the fd's.
 * A table with a bound on open fds lets a scenario exhaust them, which is how the kernel's
 * `dma_buf_fd` fails at export time (-EMFILE, E10) [kernel.md §c.2 step 12].
 */
import { type DmaBuf, dmaBufGet, dmaBufPut } from "../dmabuf/dma-buf.js";
import type { Result } from "../dmabuf/errno.js";
import { assert } from "../fabric/assert.js";

/** The fd table of one user process. */
export class FdTable {
  private readonly files = new Map<number, DmaBuf>();

  /**
   * @param fdsMax open fds allowed (RLIMIT_NOFILE); default 1024.
   * @param fdFirst the lowest fd handed out; default 3 (after stdin, stdout, stderr).
   */
  constructor(
    readonly fdsMax: number = 1024,
    readonly fdFirst: number = 3,
  ) {
    assert(Number.isSafeInteger(fdsMax) && fdsMax >= 0, "fdsMax must be a non-negative integer");
  }

  /** Open fds. */
  get openCount(): number {
    return this.files.size;
  }

  /**
   * `dma_buf_fd`: installs `buf` at the lowest free fd, consuming the caller's reference.
   * @returns the fd; or EMFILE when the table is full (the reference is NOT consumed then: the
   * caller must drop it).
   */
  install<P>(buf: DmaBuf<P>): Result<number> {
    if (this.files.size >= this.fdsMax) return { ok: false, errno: "EMFILE" };
    let fd = this.fdFirst;
    while (this.files.has(fd)) fd++;
    this.files.set(fd, buf as DmaBuf);
    return { ok: true, value: fd };
  }

  /**
   * `dma_buf_get(fd)`: a new reference to the dma-buf behind `fd`, for an importer.
   * @returns the buffer, or undefined when `fd` is not open (the kernel's -EBADF).
   */
  dmaBufGet(fd: number): DmaBuf | undefined {
    const buf = this.files.get(fd);
    return buf === undefined ? undefined : dmaBufGet(buf);
  }

  /** The buffer behind `fd` without taking a reference (for tests and monitors). */
  peek(fd: number): DmaBuf | undefined {
    return this.files.get(fd);
  }

  /**
   * `close(fd)`: drops the fd's reference (the last one releases the dma-buf).
   * @throws AssertionError when `fd` is not open.
   */
  close(fd: number): void {
    const buf = this.files.get(fd);
    assert(buf !== undefined, () => `close of fd ${fd}, which is not open`);
    this.files.delete(fd);
    dmaBufPut(buf);
  }
}
