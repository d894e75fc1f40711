/**
 * Measures how late a timer on the main thread fires while worker threads
 * keep the same CPU busy, as the onnx embedder's workers do under a miss
 * load. Run it pinned to one CPU:
 *
 *   taskset -c 0 node test/dist/bench/cache/neighbourLatency.js none|nice|idle
 *
 * `none` starts no workers. `nice` starts two workers at nice 19 that run
 * 3 ms busy jobs back to back. `idle` does the same and also puts each
 * worker under SCHED_IDLE with util-linux's `chrt`. The main thread arms a
 * 2 ms timer, works 0.1 ms on each expiry, and prints the p50, p99 and
 * maximum lateness after 6 seconds. Linux only.
 */
import { execFileSync } from "node:child_process"
import { Worker } from "node:worker_threads"

const modes = ["none", "nice", "idle"] as const
type Mode = (typeof modes)[number]

const mode = process.argv[2] as Mode
if (!modes.includes(mode)) {
  console.error(`Usage: node neighbourLatency.js ${modes.join("|")}`)
  process.exit(2)
}

const workerSource = `
const { parentPort } = require("node:worker_threads")
const { readlinkSync } = require("node:fs")
const { setPriority } = require("node:os")
const threadId = Number(readlinkSync("/proc/thread-self").split("/").pop())
setPriority(threadId, 19)
parentPort.postMessage(threadId)
parentPort.on("message", () => {
  const end = performance.now() + 3
  while (performance.now() < end) {}
  parentPort.postMessage(0)
})
`

const startWorker = async (): Promise<Worker> => {
  const worker = new Worker(workerSource, { eval: true })
  const threadId = await new Promise<number>((resolve) => worker.once("message", resolve))
  if (mode === "idle") execFileSync("chrt", ["--idle", "-p", "0", String(threadId)])
  // One job in flight per worker, as the benchmark's miss load keeps one miss per worker.
  worker.on("message", () => worker.postMessage(0))
  worker.postMessage(0)
  return worker
}

if (mode !== "none") await Promise.all([startWorker(), startWorker()])

const lateness: Array<number> = []
let due = performance.now() + 2
const expire = () => {
  lateness.push(performance.now() - due)
  const end = performance.now() + 0.1
  while (performance.now() < end) {}
  due = performance.now() + 2
  setTimeout(expire, 2)
}
setTimeout(expire, 2)

setTimeout(() => {
  lateness.sort((a, b) => a - b)
  const at = (share: number) => lateness[Math.floor(share * (lateness.length - 1))]!.toFixed(2)
  console.log(`${mode}: ${lateness.length} expiries, lateness p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${at(1)} ms`)
  process.exit(0)
}, 6_000)
