/** Measuring what a piece of code allocates on the JS heap (bench and test support). */
import { GCProfiler, getHeapStatistics } from "node:v8";

/**
 * Bytes allocated on the JS heap while `run` runs: the growth of the used heap plus whatever the
 * garbage collections during the run freed. Exact enough to tell "nothing per event" (< 1 byte
 * per event) from "one heap number per event" (16 bytes per event).
 */
export function bytesAllocatedDuring(run: () => void): number {
  const profiler = new GCProfiler();
  const usedBefore = getHeapStatistics().used_heap_size;
  profiler.start();
  run();
  const usedAfter = getHeapStatistics().used_heap_size;
  const { statistics } = profiler.stop();
  const freed = statistics.reduce((sum, gc) => sum + gc.beforeGC.heapStatistics.usedHeapSize - gc.afterGC.heapStatistics.usedHeapSize, 0);
  return usedAfter - usedBefore + freed;
}
