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

/**
 * Host pages `[phys, phys + pages * HOST_PAGE_SIZE)`, physically contiguous: what
 * {@link UserMm.pinUserPages} returns, in virtual order, adjacent runs already merged.
 */
export interface HostPageRun {
  readonly phys: number;
  readonly pages: number;
}

/** Virtual pages `[firstPage, firstPage + pages)` backed by the host pages from `phys` on. */
interface Extent {
  readonly firstPage: number;
  pages: number;
  readonly phys: number;
}

/**
 * One process's memory. Backing and pins are kept per run of pages, not per page: a run pins a
 * few hundred pages per umem, and a map entry per page was most of what a seed allocated.
 */
export class UserMm {
  readonly physBase: number;
  readonly memlockPagesMax: number;
  /** `mm->pinned_vm`: pages charged by live umems. */
  pinnedVm = 0;
  /** Virtual pages touched so far, as extents sorted by `firstPage`, never overlapping. */
  private readonly extents: Extent[] = [];
  /** Pins per host page, indexed by page number from `physBase` (host pages are handed out densely). */
  private readonly pins: number[] = [];
  private pinnedPages = 0;
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
   * `pin_user_pages_fast`: pins `count` virtual pages from page number `firstPage`. A page touched
   * for the first time gets the next free host page; the pages of one call are touched in order.
   * @returns the host pages, in virtual order, as physically contiguous runs.
   * @throws AssertionError when a page lies at or beyond {@link TASK_SIZE} (the caller checks first).
   */
  pinUserPages(firstPage: number, count: number): HostPageRun[] {
    assert((firstPage + count) * HOST_PAGE_SIZE <= TASK_SIZE, "pin of a page beyond TASK_SIZE");
    const runs: HostPageRun[] = [];
    const end = firstPage + count;
    let page = firstPage;
    let i = this.extentIndex(firstPage);
    while (page < end) {
      const extent = this.extents[i];
      if (extent !== undefined && extent.firstPage <= page) {
        // Backed already: the same host pages again, as two umems over one buffer get them.
        const pages = Math.min(end, extent.firstPage + extent.pages) - page;
        appendRun(runs, extent.phys + (page - extent.firstPage) * HOST_PAGE_SIZE, pages);
        page += pages;
        i++;
      } else {
        const pages = Math.min(end, extent?.firstPage ?? end) - page;
        appendRun(runs, this.back(i, page, pages), pages);
        page += pages;
        i = this.extentIndex(page);
      }
    }
    for (const run of runs) this.addPins(run, 1);
    return runs;
  }

  /**
   * `unpin_user_pages`: drops one pin of each host page of `runs`.
   * @throws AssertionError on a page that is not pinned (an unbalanced unpin).
   */
  unpinUserPages(runs: readonly HostPageRun[]): void {
    for (const run of runs) this.addPins(run, -1);
  }

  /** Pins held on the host page at `phys` (0 when none). */
  pinCount(phys: number): number {
    const offset = phys - this.physBase;
    return offset % HOST_PAGE_SIZE === 0 ? (this.pins[offset / HOST_PAGE_SIZE] ?? 0) : 0;
  }

  /** Host pages with at least one pin. */
  get pinnedPageCount(): number {
    return this.pinnedPages;
  }

  /** The index of the first extent that ends after `page` (the one holding it, or the next). */
  private extentIndex(page: number): number {
    let low = 0;
    let high = this.extents.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      const extent = this.extents[mid] as Extent;
      if (extent.firstPage + extent.pages <= page) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  /** Backs `pages` untouched virtual pages from `page` with fresh host pages; the new extent goes at index `i`. Returns its first host page. */
  private back(i: number, page: number, pages: number): number {
    const phys = this.physNext;
    this.physNext += pages * HOST_PAGE_SIZE;
    for (let n = 0; n < pages; n++) this.pins.push(0);
    const before = this.extents[i - 1];
    // Grow the extent before when both virtual and host pages continue it: keeps the list short.
    if (before !== undefined && before.firstPage + before.pages === page && before.phys + before.pages * HOST_PAGE_SIZE === phys) before.pages += pages;
    else this.extents.splice(i, 0, { firstPage: page, pages, phys });
    return phys;
  }

  private addPins(run: HostPageRun, delta: 1 | -1): void {
    const first = (run.phys - this.physBase) / HOST_PAGE_SIZE;
    for (let n = first; n < first + run.pages; n++) {
      const count = this.pins[n] ?? 0;
      assert(count + delta >= 0, () => `unpin of host page 0x${(this.physBase + n * HOST_PAGE_SIZE).toString(16)}, which is not pinned`);
      this.pins[n] = count + delta;
      if (count === 0) this.pinnedPages++;
      else if (count + delta === 0) this.pinnedPages--;
    }
  }
}

/** Appends `pages` host pages from `phys` to `runs`, extending the last run when they continue it. */
function appendRun(runs: HostPageRun[], phys: number, pages: number): void {
  const last = runs.at(-1);
  if (last !== undefined && last.phys + last.pages * HOST_PAGE_SIZE === phys) runs[runs.length - 1] = { phys: last.phys, pages: last.pages + pages };
  else runs.push({ phys, pages });
}
