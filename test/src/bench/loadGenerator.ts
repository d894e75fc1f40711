/**
 * The closed-loop load generator, run by run.ts as a child process:
 *
 *   node loadGenerator.js '{"url":"http://127.0.0.1:PORT","workload":"plain","connections":64,"warmupMs":2000,"durationMs":10000}'
 *
 * Each of `connections` workers sends one request, reads the whole response,
 * and sends the next, over an undici Pool with one connection per worker.
 * After the warm-up it counts every request that completes in the measured
 * window and records its latency, from sending the request to the last body
 * byte. It reports the window's start and end and the result over IPC, or
 * prints the result as JSON when started without an IPC channel.
 */
import { setTimeout as sleep } from "node:timers/promises"
import { Pool } from "undici"
import { LatencyRecorder } from "./latency.js"
import { sendToRunner, type ErrorCounts, type LoadResult } from "./protocol.js"
import { chatCompletionsPath, workloadNames, workloads, type WorkloadName } from "./workloads.js"

interface LoadOptions {
  readonly url: string
  readonly workload: WorkloadName
  readonly connections: number
  readonly warmupMs: number
  readonly durationMs: number
}

/** How long in-flight requests may take to finish after the window before they are aborted. */
const drainTimeoutMs = 10_000
/** Pause after a connection failure, so that a dead target does not turn the loop into a busy spin. */
const transportErrorPauseMs = 10
const tailLength = 32
const streamEnd = Buffer.from("data: [DONE]")

const parseOptions = (text: string | undefined): LoadOptions => {
  const options = JSON.parse(text ?? "null") as Partial<LoadOptions> | null
  const isCount = (value: unknown, minimum: number) => typeof value === "number" && Number.isInteger(value) && value >= minimum
  if (
    options === null ||
    typeof options.url !== "string" ||
    !workloadNames.includes(options.workload as WorkloadName) ||
    !isCount(options.connections, 1) ||
    !isCount(options.warmupMs, 0) ||
    !isCount(options.durationMs, 1)
  ) {
    throw new Error(`Invalid load generator options: ${text}. Expected {url, workload (${workloadNames.join("|")}), connections, warmupMs, durationMs}.`)
  }
  return options as LoadOptions
}

const options = parseOptions(process.argv[2])
const workload = workloads[options.workload]

// Stops the process even if a request hangs past the drain timeout.
setTimeout(() => {
  console.error(`The load generator did not finish within its time limit; exiting.`)
  process.exit(3)
}, options.warmupMs + options.durationMs + drainTimeoutMs + 10_000).unref()
process.on("disconnect", () => process.exit(0))

const pool = new Pool(options.url, {
  connections: options.connections,
  pipelining: 1,
  keepAliveTimeout: 30_000,
  headersTimeout: 30_000,
  bodyTimeout: 30_000
})
const requestHeaders = { "content-type": "application/json", authorization: "Bearer sk-bench-client" }
const abort = new AbortController()

let phase: "warm-up" | "measure" | "drain" = "warm-up"
const latencies = new LatencyRecorder()
const errors: { -readonly [K in keyof ErrorCounts]: number } = { status: 0, incomplete: 0, transport: 0 }
const errorSamples: Array<string> = []
let succeeded = 0
let responseBytes = 0
let totalSucceeded = 0
let totalFailed = 0

const recordFailure = (kind: keyof ErrorCounts, description: string) => {
  totalFailed++
  if (phase !== "measure") return
  errors[kind]++
  if (errorSamples.length < 5) errorSamples.push(description)
}

// Keeps the last `tailLength` bytes of the body read so far.
const appendTail = (tail: Buffer, chunk: Buffer): Buffer =>
  chunk.length >= tailLength ? chunk.subarray(chunk.length - tailLength) : Buffer.concat([tail, chunk]).subarray(-tailLength)

const isComplete = (tail: Buffer): boolean => {
  if (workload.stream) return tail.includes(streamEnd)
  const text = tail.toString("latin1").trimEnd()
  return text.endsWith("}")
}

const describe = (error: unknown): string => {
  const code = (error as { code?: unknown }).code
  return `${(error as Error).message}${typeof code === "string" ? ` (${code})` : ""}`
}

/** Sends one request and reads its whole response; returns false when the connection failed. */
const sendRequest = async (): Promise<boolean> => {
  const started = performance.now()
  let response: Awaited<ReturnType<Pool["request"]>>
  try {
    response = await pool.request({
      path: chatCompletionsPath,
      method: "POST",
      headers: requestHeaders,
      body: workload.requestBody,
      signal: abort.signal
    })
  } catch (error) {
    recordFailure("transport", describe(error))
    return false
  }

  if (response.statusCode < 200 || response.statusCode >= 300) {
    const text = await response.body.text().catch(describe)
    recordFailure("status", `HTTP ${response.statusCode}: ${text.slice(0, 300)}`)
    return true
  }

  let size = 0
  let tail: Buffer = Buffer.alloc(0)
  try {
    for await (const chunk of response.body) {
      size += (chunk as Buffer).length
      tail = appendTail(tail, chunk as Buffer)
    }
  } catch (error) {
    recordFailure("incomplete", `The body failed after ${size} bytes: ${describe(error)}`)
    return true
  }
  if (!isComplete(tail)) {
    recordFailure("incomplete", `The body of ${size} bytes ended with ${JSON.stringify(tail.toString("utf8"))}`)
    return true
  }

  totalSucceeded++
  if (phase === "measure") {
    succeeded++
    responseBytes += size
    latencies.add(performance.now() - started)
  }
  return true
}

const runWorker = async () => {
  while (phase !== "drain") {
    const connected = await sendRequest()
    if (!connected) await sleep(transportErrorPauseMs)
  }
}

const workers = Array.from({ length: options.connections }, runWorker)

await sleep(options.warmupMs)
phase = "measure"
const windowStart = performance.now()
sendToRunner({ type: "measure-start" })

await sleep(options.durationMs)
phase = "drain"
const windowMs = performance.now() - windowStart
sendToRunner({ type: "measure-end" })

const drainTimer = setTimeout(() => abort.abort(), drainTimeoutMs)
await Promise.all(workers)
clearTimeout(drainTimer)
await pool.close()

const result: LoadResult = {
  connections: options.connections,
  windowMs,
  succeeded,
  errors,
  errorSamples,
  latency: latencies.summarize(),
  meanResponseBytes: succeeded === 0 ? 0 : responseBytes / succeeded,
  totalSucceeded,
  totalFailed
}

if (process.send === undefined) {
  console.log(JSON.stringify(result, null, 2))
} else {
  process.send({ type: "load-result", result }, () => process.disconnect())
}
