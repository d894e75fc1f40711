/**
 * A Deno program that reads a stream through the runtime's fetch transport,
 * runs the garbage collector, and then ends the call the way the first
 * argument names: `abort` (the caller's signal), `idle` (the idle timeout)
 * or `discard`. It prints "ending the call" just before, then the tag of
 * the error that the pending read rejects with, and stays alive until
 * killed, so that the upstream connection can close only because of the
 * transport.
 *
 *   deno run -A --v8-flags=--expose-gc fetchTransportProbe.js URL MODE
 */
import { makeFetchTransport } from "@fluxen/runtime/web"
import { argv } from "node:process"

const IDLE_TIMEOUT_MS = 1_000

const [url, mode] = argv.slice(2)
if (url === undefined || (mode !== "abort" && mode !== "idle" && mode !== "discard")) {
  throw new Error(`Usage: fetchTransportProbe.js URL abort|idle|discard, got ${argv.slice(2).join(" ")}`)
}
const collectGarbage = (globalThis as { gc?: () => void }).gc
if (collectGarbage === undefined) throw new Error("gc() is missing: run Deno with --v8-flags=--expose-gc.")

// Keeps the process alive whatever the transport does.
setInterval(() => undefined, 60_000)

const caller = new AbortController()
const response = await makeFetchTransport(fetch).send({
  provider: "probe",
  method: "GET",
  url,
  headers: {},
  signal: caller.signal,
  idleTimeoutMs: mode === "idle" ? IDLE_TIMEOUT_MS : 60_000
})
const chunks = response.body[Symbol.asyncIterator]()
await chunks.next()
const pendingRead = chunks.next().then(
  () => "no error",
  (error: unknown) => String((error as { _tag?: unknown })._tag ?? error)
)

// Several collections with turns of the event loop between them, all within the idle timeout.
for (let i = 0; i < 5; i++) {
  collectGarbage()
  await new Promise((resolve) => setTimeout(resolve, 20))
}
console.log("ending the call")
if (mode === "abort") caller.abort()
if (mode === "discard") response.discard()

console.log(`read failed: ${await pendingRead}`)
