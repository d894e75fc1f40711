/**
 * The load generator of the cache benchmark, run by run.ts as a child
 * process. Like the main benchmark's load generator, it sends chat
 * completions to Fluxen over an undici Pool with one connection per worker.
 * It adds what the cache cases need: a `cache-control` request header, a new
 * user turn per request, a fixed request rate, and a count of the
 * `x-fluxen-cache` response header.
 *
 *   node cacheLoadGenerator.js '{"url":"http://127.0.0.1:PORT","connections":64,"warmupMs":2000,"durationMs":10000,
 *                                "stream":false,"body":"repeated"}'
 *
 * Without `ratePerSecond` it is a closed loop: each worker sends the next
 * request as soon as the previous response ends. With it, requests are due
 * at fixed intervals and go out on the next free connection, and the latency
 * counts from the due time, so that time spent waiting for a connection is
 * not hidden. It reports over IPC like the main load generator, or prints
 * the result as JSON when started without an IPC channel.
 */
import { setTimeout as sleep } from "node:timers/promises"
import { Pool } from "undici"
import { LatencyRecorder } from "../latency.js"
import { sendToRunner, type ErrorCounts, type LoadResult } from "../protocol.js"
import { chatCompletionsPath } from "../workloads.js"
import { bodyWithUserTurn, repeatedBody, seededRandom, uniqueUserTurn } from "./requests.js"

export interface CacheLoadOptions {
  readonly url: string
  readonly connections: number
  readonly warmupMs: number
  readonly durationMs: number
  readonly stream: boolean
  /** `repeated`: the main benchmark's request every time. `unique`: a new user turn per request. */
  readonly body: "repeated" | "unique"
  /** Seeds the user turns of `unique` bodies. Give concurrent generators different seeds. */
  readonly seed?: number
  /** The `cache-control` request header, e.g. `no-store`, or undefined to send none. */
  readonly cacheControl?: string
  /** Requests per second across all connections, or undefined for a closed loop. */
  readonly ratePerSecond?: number
}

export interface CacheLoadResult extends LoadResult {
  /** Responses of the measured window by their `x-fluxen-cache` value, or `none` when the header was missing. */
  readonly cacheStatuses: Readonly<Record<string, number>>
  /** With a fixed rate: requests that fell due in the window but were dropped because the queue of due requests was full. */
  readonly droppedRequests: number
}

/** How long in-flight requests may take to finish after the window before they are aborted. */
const drainTimeoutMs = 10_000
/** Pause after a connection failure, so that a dead target does not turn the loop into a busy spin. */
const transportErrorPauseMs = 10
/** With a fixed rate, due requests beyond this many per connection are dropped and counted. */
const queuedPerConnection = 50
const streamEnd = Buffer.from("data: [DONE]")
const tailLength = 32

const parseOptions = (text: string | undefined): CacheLoadOptions => {
  const options = JSON.parse(text ?? "null") as Partial<CacheLoadOptions> | null
  const isCount = (value: unknown, minimum: number) => typeof value === "number" && Number.isInteger(value) && value >= minimum
  if (
    options === null ||
    typeof options.url !== "string" ||
    !isCount(options.connections, 1) ||
    !isCount(options.warmupMs, 0) ||
    !isCount(options.durationMs, 1) ||
    typeof options.stream !== "boolean" ||
    (options.body !== "repeated" && options.body !== "unique") ||
    (options.seed !== undefined && !isCount(options.seed, 0)) ||
    (options.cacheControl !== undefined && typeof options.cacheControl !== "string") ||
    (options.ratePerSecond !== undefined && !(typeof options.ratePerSecond === "number" && options.ratePerSecond > 0))
  ) {
    throw new Error(
      `Invalid load generator options: ${text}. Expected {url, connections, warmupMs, durationMs, stream, body (repeated|unique), ` +
        "seed?, cacheControl?, ratePerSecond?}."
    )
  }
  return options as CacheLoadOptions
}

const options = parseOptions(process.argv[2])

// Stops the process even if a request hangs past the drain timeout.
setTimeout(() => {
  console.error("The cache load generator did not finish within its time limit; exiting.")
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
const requestHeaders: Record<string, string> = {
  "content-type": "application/json",
  authorization: "Bearer sk-bench-client",
  ...(options.cacheControl === undefined ? {} : { "cache-control": options.cacheControl })
}
const abort = new AbortController()
const random = seededRandom(options.seed ?? 1)
let sequence = 0
const nextBody = (): Buffer =>
  options.body === "repeated" ? repeatedBody(options.stream) : bodyWithUserTurn(options.stream, uniqueUserTurn(random, sequence++))

let phase: "warm-up" | "measure" | "drain" = "warm-up"
const latencies = new LatencyRecorder()
const errors: { -readonly [K in keyof ErrorCounts]: number } = { status: 0, incomplete: 0, transport: 0 }
const errorSamples: Array<string> = []
const cacheStatuses: Record<string, number> = {}
let succeeded = 0
let responseBytes = 0
let totalSucceeded = 0
let totalFailed = 0
let droppedRequests = 0

const recordFailure = (kind: keyof ErrorCounts, description: string) => {
  totalFailed++
  if (phase !== "measure") return
  errors[kind]++
  if (errorSamples.length < 5) errorSamples.push(description)
}

const describe = (error: unknown): string => {
  const code = (error as { code?: unknown }).code
  return `${(error as Error).message}${typeof code === "string" ? ` (${code})` : ""}`
}

/** Whether the last bytes of a body end a complete response: `data: [DONE]` for a stream, a closing brace for JSON. */
const isComplete = (tail: Buffer): boolean =>
  options.stream ? tail.includes(streamEnd) : tail.toString("latin1").trimEnd().endsWith("}")

/** Sends one request and reads its whole response. Returns false when the connection failed. */
const sendRequest = async (startedAt: number): Promise<boolean> => {
  let response: Awaited<ReturnType<Pool["request"]>>
  try {
    response = await pool.request({ path: chatCompletionsPath, method: "POST", headers: requestHeaders, body: nextBody(), signal: abort.signal })
  } catch (error) {
    recordFailure("transport", describe(error))
    return false
  }

  if (response.statusCode !== 200) {
    const text = await response.body.text().catch(describe)
    recordFailure("status", `HTTP ${response.statusCode}: ${text.slice(0, 300)}`)
    return true
  }

  let size = 0
  let tail: Buffer = Buffer.alloc(0)
  try {
    for await (const chunk of response.body) {
      const bytes = chunk as Buffer
      size += bytes.length
      tail = bytes.length >= tailLength ? bytes.subarray(bytes.length - tailLength) : Buffer.concat([tail, bytes]).subarray(-tailLength)
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
    latencies.add(performance.now() - startedAt)
    const status = response.headers["x-fluxen-cache"]
    const name = typeof status === "string" ? status : "none"
    cacheStatuses[name] = (cacheStatuses[name] ?? 0) + 1
  }
  return true
}

const runClosedLoopWorker = async () => {
  while (phase !== "drain") {
    const connected = await sendRequest(performance.now())
    if (!connected) await sleep(transportErrorPauseMs)
  }
}

// Fixed rate: the scheduler appends due times, and idle workers wait for the next one.
const dueTimes: Array<number> = []
const idleWorkers: Array<() => void> = []

const runScheduler = async (ratePerSecond: number) => {
  const intervalMs = 1000 / ratePerSecond
  const startedAt = performance.now()
  const draining = () => phase === "drain"
  for (let count = 0; !draining(); count++) {
    const due = startedAt + count * intervalMs
    const wait = due - performance.now()
    if (wait > 0) await sleep(wait)
    if (draining()) break
    if (dueTimes.length >= options.connections * queuedPerConnection) {
      if (phase === "measure") droppedRequests++
      continue
    }
    dueTimes.push(due)
    idleWorkers.shift()?.()
  }
  for (const wake of idleWorkers.splice(0)) wake()
}

const runPacedWorker = async () => {
  while (phase !== "drain") {
    const due = dueTimes.shift()
    if (due === undefined) {
      await new Promise<void>((resolve) => idleWorkers.push(resolve))
      continue
    }
    const connected = await sendRequest(due)
    if (!connected) await sleep(transportErrorPauseMs)
  }
}

const rate = options.ratePerSecond
const tasks =
  rate === undefined
    ? Array.from({ length: options.connections }, runClosedLoopWorker)
    : [runScheduler(rate), ...Array.from({ length: options.connections }, runPacedWorker)]

await sleep(options.warmupMs)
phase = "measure"
const windowStart = performance.now()
sendToRunner({ type: "measure-start" })

await sleep(options.durationMs)
phase = "drain"
const windowMs = performance.now() - windowStart
sendToRunner({ type: "measure-end" })

const drainTimer = setTimeout(() => abort.abort(), drainTimeoutMs)
await Promise.all(tasks)
clearTimeout(drainTimer)
await pool.close()

const result: CacheLoadResult = {
  connections: options.connections,
  windowMs,
  succeeded,
  errors,
  errorSamples,
  latency: latencies.summarize(),
  meanResponseBytes: succeeded === 0 ? 0 : responseBytes / succeeded,
  totalSucceeded,
  totalFailed,
  cacheStatuses,
  droppedRequests
}

if (process.send === undefined) {
  console.log(JSON.stringify(result, null, 2))
} else {
  process.send({ type: "load-result", result }, () => process.disconnect())
}
