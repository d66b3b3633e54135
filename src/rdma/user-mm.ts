/**
 * A user process's memory as `ib_umem_get` sees it (`current->mm`): virtual pages backed by
 * "physical" host pages, `pin_user_pages` counts, and the `pinned_vm` charge checked against
 * RLIMIT_MEMLOCK.
 *
 * Host pages are handed out deterministically: the first time a virtual page is touched (pinned)
 * it gets the next free physical page, counting up from `physBase`; later pins of the same virtual
 * page get the same physical page, as two umems over one buffer do in the kernel. Pages are never
 * freed or moved (a pinned page cannot move, and the model has no reclaim).
 */
import { assert } from "../fabric/assert.js";

/** Page size of the host. */
export const HOST_PAGE_SIZE = 4096;

/** x86-64 `TASK_SIZE` with 4-level paging: user addresses lie below it; `pin_user_pages` fails -EFAULT beyond. */
export const TASK_SIZE = 2 ** 47 - HOST_PAGE_SIZE;

/** Options of {@link UserMm}. */
export interface UserMmOptions {
  /** First physical address handed out; default 4 GiB (above the 32-bit MMIO hole). Page aligned. */
  readonly physBase?: number;
  /** RLIMIT_MEMLOCK in pages; default unlimited (the process has CAP_IPC_LOCK). */
  readonly memlockPagesMax?: number;
}

/** One process's memory. */
export class UserMm {
  readonly physBase: number;
  readonly memlockPagesMax: number;
  /** `mm->pinned_vm`: pages charged by live umems. */
  pinnedVm = 0;
  private readonly backing = new Map<number, number>();
  private readonly pins = new Map<number, number>();
  private physNext: number;

  constructor(options: UserMmOptions = {}) {
    this.physBase = options.physBase ?? 2 ** 32;
    this.memlockPagesMax = options.memlockPagesMax ?? Number.POSITIVE_INFINITY;
    assert(Number.isSafeInteger(this.physBase) && this.physBase % HOST_PAGE_SIZE === 0, "physBase must be a page-aligned safe integer");
    this.physNext = this.physBase;
  }

  /**
   * Charges `pages` to `pinned_vm` if RLIMIT_MEMLOCK allows it.
   * @returns false (nothing charged) when the limit would be exceeded: `ib_umem_get`'s -ENOMEM.
   */
  chargePinned(pages: number): boolean {
    if (this.pinnedVm + pages > this.memlockPagesMax) return false;
    this.pinnedVm += pages;
    return true;
  }

  /** Undoes {@link chargePinned}. @throws AssertionError when more is uncharged than was charged. */
  unchargePinned(pages: number): void {
    assert(pages <= this.pinnedVm, () => `pinned_vm would go negative (${this.pinnedVm} - ${pages})`);
    this.pinnedVm -= pages;
  }

  /**
   * `pin_user_pages_fast`: pins `count` virtual pages from page number `firstPage`.
   * @returns the physical address of each page, in order.
   * @throws AssertionError when a page lies at or beyond {@link TASK_SIZE} (the caller checks first).
   */
  pinUserPages(firstPage: number, count: number): number[] {
    assert((firstPage + count) * HOST_PAGE_SIZE <= TASK_SIZE, "pin of a page beyond TASK_SIZE");
    const phys: number[] = [];
    for (let page = firstPage; page < firstPage + count; page++) {
      let address = this.backing.get(page);
      if (address === undefined) {
        address = this.physNext;
        this.physNext += HOST_PAGE_SIZE;
        this.backing.set(page, address);
      }
      this.pins.set(address, (this.pins.get(address) ?? 0) + 1);
      phys.push(address);
    }
    return phys;
  }

  /**
   * `unpin_user_pages`: drops one pin of each physical page.
   * @throws AssertionError on a page that is not pinned (an unbalanced unpin).
   */
  unpinUserPages(phys: readonly number[]): void {
    for (const address of phys) {
      const count = this.pins.get(address) ?? 0;
      assert(count > 0, () => `unpin of host page 0x${address.toString(16)}, which is not pinned`);
      if (count === 1) this.pins.delete(address);
      else this.pins.set(address, count - 1);
    }
  }

  /** Pins held on the host page at `phys` (0 when none). */
  pinCount(phys: number): number {
    return this.pins.get(phys) ?? 0;
  }

  /** Host pages with at least one pin. */
  get pinnedPageCount(): number {
    return this.pins.size;
  }
}
