/**
 * The upstream of the benchmark, run as a child process of run.ts: an
 * OpenAI-like server that returns a recorded chat completion for every
 * request, or a recorded stream when the request body contains `"stream":true`.
 * It reports its URL over IPC and exits when the runner disconnects.
 *
 *   node mockUpstream.js [STREAM_WRITES]
 *
 * STREAM_WRITES (default 4) is the number of network writes a stream is cut
 * into, at event boundaries, with one event-loop turn between writes.
 */
import { createServer, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { setImmediate as nextTurn } from "node:timers/promises"
import { loadFixture, splitEvents } from "../support/fixtures.js"
import { sendToRunner } from "./protocol.js"
import { streamRequestMarker, workloads } from "./workloads.js"

const streamWrites = Number(process.argv[2] ?? 4)
if (!Number.isInteger(streamWrites) || streamWrites < 1) {
  console.error(`STREAM_WRITES must be a positive integer, got ${process.argv[2]}.`)
  process.exit(2)
}

// Headers an OpenAI response carries besides the content type; proxies copy some of them.
const openAIHeaders = { "openai-version": "2020-10-01", "openai-processing-ms": "412", "x-request-id": "req_bench" }

const plain = loadFixture(workloads.plain.fixture)
const stream = loadFixture(workloads.stream.fixture)

/** Cuts an SSE body into `count` parts of about equal event counts, never inside an event. */
const splitIntoParts = (body: Buffer, count: number): Array<Buffer> => {
  const events = splitEvents(body)
  const perPart = Math.ceil(events.length / count)
  const parts: Array<Buffer> = []
  for (let first = 0; first < events.length; first += perPart) {
    const last = events[Math.min(first + perPart, events.length) - 1]!
    parts.push(body.subarray(events[first]!.start, last.end))
  }
  return parts
}

const streamParts = splitIntoParts(stream.body, streamWrites)

const sendPlain = (response: ServerResponse) => {
  response.writeHead(plain.status, { ...openAIHeaders, "content-type": plain.contentType, "content-length": plain.body.length })
  response.end(plain.body)
}

const sendStream = async (response: ServerResponse) => {
  response.writeHead(stream.status, { ...openAIHeaders, "content-type": stream.contentType, "cache-control": "no-cache" })
  for (const [index, part] of streamParts.entries()) {
    if (response.destroyed) return
    if (index > 0) await nextTurn()
    response.write(part)
  }
  response.end()
}

const server = createServer({ keepAliveTimeout: 65_000, requestTimeout: 0 }, (request, response) => {
  const chunks: Array<Buffer> = []
  request.on("data", (chunk: Buffer) => chunks.push(chunk))
  request.on("end", () => {
    const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)
    if (body.includes(streamRequestMarker)) {
      sendStream(response).catch((error: unknown) => response.destroy(error as Error))
    } else {
      sendPlain(response)
    }
  })
})

server.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as AddressInfo
  sendToRunner({ type: "listening", url: `http://127.0.0.1:${port}` })
})

process.on("disconnect", () => process.exit(0))
