/**
 * Test support: the recorded Gemini responses from the shared fixtures
 * folder, framed as they come over the wire, and a fake `HttpTransport`
 * that replays them with chosen network write boundaries.
 */
import type { HttpTransportService, UpstreamRequest, UpstreamResponse } from "@fluxen/sdk"
import { readFileSync } from "node:fs"

// CI clones the repository next to a `shared/` folder, so the fixtures are
// found relative to this file and never through an absolute path.
const fixturesDir = new URL("../../../../shared/fixtures/gemini/", import.meta.url)

const encoder = new TextEncoder()

export interface Fixture {
  readonly status: number
  readonly contentType: string
  readonly body: Uint8Array
}

/** Frames `.chunks.txt` lines as Gemini sends them: `data: <json>` and a CRLF pair, with no terminator. */
export const framedChunks = (lines: ReadonlyArray<string>): string => lines.map((line) => `data: ${line}\r\n\r\n`).join("")

/**
 * Loads `<api>/<case>.<format>` from the Gemini fixtures. The status comes
 * from an `error-<status>-` name. The recorded stream error was a plain JSON
 * body labelled `text/event-stream`, so it keeps that content type.
 */
export const loadFixture = (path: string): Fixture => {
  const raw = readFileSync(new URL(path, fixturesDir), "utf8")
  const status = Number(/(?:^|\/)error-(\d{3})-/.exec(path)?.[1] ?? 200)
  const isStream = path.startsWith("stream-generate-content/")
  const body = path.endsWith(".chunks.txt") ? framedChunks(raw.split("\n").filter((line) => line !== "")) : raw
  return { status, contentType: isStream ? "text/event-stream" : "application/json", body: encoder.encode(body) }
}

export type WritePattern = "whole" | "per-event" | { readonly bytes: number }

export const writePatterns: ReadonlyArray<WritePattern> = ["whole", "per-event", { bytes: 1 }, { bytes: 7 }]

export const describePattern = (pattern: WritePattern): string => (typeof pattern === "string" ? pattern : `${pattern.bytes}-byte slices`)

/** Cuts a body into network writes. "per-event" cuts after each blank line (CRLF or LF pairs). */
export const splitBody = (body: Uint8Array, pattern: WritePattern): Array<Uint8Array> => {
  if (pattern === "whole") return [body]
  if (pattern === "per-event") {
    const text = new TextDecoder().decode(body)
    const events = text.split(/(?<=\r\n\r\n|\n\n)/)
    return events.filter((event) => event !== "").map((event) => encoder.encode(event))
  }
  const slices: Array<Uint8Array> = []
  for (let start = 0; start < body.length; start += pattern.bytes) slices.push(body.subarray(start, start + pattern.bytes))
  return slices
}

export interface FakeReply {
  readonly status: number
  readonly headers?: Readonly<Record<string, string>>
  readonly body: Uint8Array
  readonly writes?: WritePattern
}

export const jsonReply = (status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): FakeReply => ({
  status,
  headers: { "content-type": "application/json", ...headers },
  body: encoder.encode(JSON.stringify(body))
})

export const fixtureReply = (path: string, writes: WritePattern = "whole", headers: Readonly<Record<string, string>> = {}): FakeReply => {
  const fixture = loadFixture(path)
  return { status: fixture.status, headers: { "content-type": fixture.contentType, ...headers }, body: fixture.body, writes }
}

export interface FakeTransport {
  readonly service: HttpTransportService
  readonly requests: Array<UpstreamRequest>
  /** How many responses were released early with `discard()`. */
  readonly discarded: () => number
}

/** Creates a transport that responds to each request with the next reply in the list, or with `reply(request)`. */
export const fakeTransport = (reply: FakeReply | ReadonlyArray<FakeReply> | ((request: UpstreamRequest) => FakeReply)): FakeTransport => {
  const requests: Array<UpstreamRequest> = []
  let discards = 0
  const next = (request: UpstreamRequest): FakeReply => {
    if (typeof reply === "function") return reply(request)
    if (!Array.isArray(reply)) return reply as FakeReply
    const found = reply[requests.length - 1]
    if (found === undefined) throw new Error(`The fake transport has no reply for request ${requests.length}`)
    return found
  }
  const service: HttpTransportService = {
    send: async (request): Promise<UpstreamResponse> => {
      requests.push(request)
      const { status, headers = {}, body, writes = "whole" } = next(request)
      return {
        status,
        headers,
        body: (async function* () {
          for (const slice of splitBody(body, writes)) yield slice
        })(),
        bytes: async () => body,
        discard: () => {
          discards++
        }
      }
    }
  }
  return { service, requests, discarded: () => discards }
}
