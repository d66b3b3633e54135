/**
 * A fake `UmemPinner` for umem_list tests: it records every pin and release, so a test can assert
 * the exact side-effect sequence the kernel's list code causes.
 */
import type { Result } from "../../src/dmabuf/errno.js";
import type { Umem, UmemPinner } from "../../src/rdma/buffer-desc.js";

/** dma-buf fd the fake refuses as VFIO refuses a pinned importer. */
export const FD_REFUSED = 66;

/**
 * Fake pinner: umems are named u0, u1, … in pin order; `log` lists every pin and release.
 * Failures: fd < 0 -> EINVAL (standing in for dma_buf_get's EBADF), fd 66 -> EOPNOTSUPP,
 * VA 0 -> EFAULT, length 0 -> EINVAL.
 */
export function fakePinner() {
  const log: string[] = [];
  const releases = new Map<string, number>();
  const pinned: string[] = [];
  const make = (what: string, length: bigint): Result<Umem> => {
    const name = `u${pinned.length}`;
    pinned.push(name);
    releases.set(name, 0);
    log.push(`pin ${name} ${what}`);
    const release = () => {
      releases.set(name, (releases.get(name) ?? 0) + 1);
      log.push(`release ${name}`);
    };
    return { ok: true, value: { name, length: Number(length), release } };
  };
  const pinner: UmemPinner = {
    pinDmabuf(fd, offset, length, access) {
      if (fd < 0 || length === 0n) return { ok: false, errno: "EINVAL" };
      if (fd === FD_REFUSED) return { ok: false, errno: "EOPNOTSUPP" };
      return make(`dmabuf fd=${fd} offset=${offset} length=${length} access=${access}`, length);
    },
    getVa(addr, length, access) {
      if (addr === 0n) return { ok: false, errno: "EFAULT" };
      if (length === 0n) return { ok: false, errno: "EINVAL" };
      return make(`va addr=${addr} length=${length} access=${access}`, length);
    },
  };
  return { pinner, log, releases, pinned };
}
