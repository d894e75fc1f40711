/**
 * Preloaded with `node --import` into the proxy under test. Between the
 * runner's `allocation-start` and `allocation-stop` messages it records every
 * garbage collection with `v8.GCProfiler`. It then reports an estimate of the
 * bytes allocated on the V8 heap in that window, which is the growth of the
 * used heap from the end of one collection to the start of the next, summed.
 * It also stops the process with SIGTERM when the runner's IPC channel
 * closes, so a proxy does not outlive a runner that was killed.
 *
 * NOTE: Buffer contents live outside the V8 heap and are not counted. After
 * a full collection, memory that the concurrent sweeper frees later lowers
 * the next reading, so the estimate can be low when full collections occur.
 */
import { getHeapStatistics, GCProfiler } from "node:v8"
import { sendToRunner, type RunnerMessage } from "./protocol.js"

let profiler: GCProfiler | undefined
let startedAt = 0
let usedAtStart = 0

const start = () => {
  profiler?.stop()
  profiler = new GCProfiler()
  usedAtStart = getHeapStatistics().used_heap_size
  startedAt = performance.now()
  profiler.start()
}

const stop = () => {
  if (profiler === undefined) return
  const result = profiler.stop()
  profiler = undefined
  const usedAtEnd = getHeapStatistics().used_heap_size

  let allocatedBytes = 0
  let usedAfterPrevious = usedAtStart
  let gcPauseMicros = 0
  for (const collection of result.statistics) {
    allocatedBytes += Math.max(0, collection.beforeGC.heapStatistics.usedHeapSize - usedAfterPrevious)
    usedAfterPrevious = collection.afterGC.heapStatistics.usedHeapSize
    gcPauseMicros += collection.cost
  }
  allocatedBytes += Math.max(0, usedAtEnd - usedAfterPrevious)

  sendToRunner({
    type: "allocation",
    sample: {
      allocatedBytes,
      gcCount: result.statistics.length,
      gcPauseMs: gcPauseMicros / 1000,
      windowMs: performance.now() - startedAt
    }
  })
}

if (process.send !== undefined) {
  process.on("message", (message: RunnerMessage) => {
    if (message.type === "allocation-start") start()
    else if (message.type === "allocation-stop") stop()
  })
  process.on("disconnect", () => process.kill(process.pid, "SIGTERM"))
  // The channel must not keep a process alive that would otherwise exit.
  process.channel?.unref()
}
