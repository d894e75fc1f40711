/**
 * Recorded upstream responses for the replay server, and the ways their
 * bodies are cut into network writes.
 */
import { readFileSync } from "node:fs"
import { basename } from "node:path"

/** One upstream response as it went over the wire. */
export interface Recording {
  /** HTTP status; default 200. */
  readonly status?: number
  /** The `content-type` header; default `application/json`. */
  readonly contentType?: string
  /** Further response headers (`retry-after`, `x-ratelimit-*`, ...). */
  readonly headers?: Readonly<Record<string, string>>
  /** The body exactly as sent. An SSE body keeps its blank lines between events. */
  readonly body: string | Uint8Array
}

/**
 * The way the replay server cuts a body into writes. `whole` sends it in one
 * write, `per-event` sends one SSE event per write (the whole body when it is
 * not an event stream), and `{ bytes: n }` sends slices of `n` bytes, which
 * splits events, lines and UTF-8 sequences at arbitrary points.
 */
export type WritePattern = "whole" | "per-event" | { readonly bytes: number }

export interface ReadRecordingOptions {
  /** Overrides the status taken from the file name. */
  readonly status?: number
  /** Overrides the content type taken from the file extension. */
  readonly contentType?: string
  readonly headers?: Readonly<Record<string, string>>
}

const errorStatusPattern = /^error-(\d{3})\b/

/**
 * Reads a recording from a file. `.sse` files are served as
 * `text/event-stream`, anything else as `application/json`. A file named
 * `error-<status>-...` is served with that status, any other with 200,
 * unless `options.status` is set.
 */
export const readRecording = (path: string | URL, options: ReadRecordingOptions = {}): Recording => {
  const name = basename(typeof path === "string" ? path : path.pathname)
  const statusFromName = errorStatusPattern.exec(name)?.[1]
  const status = options.status ?? (statusFromName === undefined ? 200 : Number(statusFromName))
  const contentType = options.contentType ?? (name.endsWith(".sse") ? "text/event-stream" : "application/json")
  return {
    status,
    contentType,
    ...(options.headers === undefined ? {} : { headers: options.headers }),
    body: new Uint8Array(readFileSync(path))
  }
}

const LF = 0x0a
const CR = 0x0d

/**
 * Returns the end offsets of the SSE events in a body: each event ends after
 * the blank line that closes it. Bytes after the last blank line (an event
 * the recording did not terminate) form a final piece of their own.
 */
export const sseEventEnds = (body: Uint8Array): Array<number> => {
  const ends: Array<number> = []
  let lineIsEmpty = true
  let eventHasLines = false
  for (let i = 0; i < body.length; i++) {
    const byte = body[i]
    if (byte !== LF && byte !== CR) {
      lineIsEmpty = false
      continue
    }
    // CRLF is one line terminator.
    const end = byte === CR && body[i + 1] === LF ? i + 2 : i + 1
    if (!lineIsEmpty) {
      eventHasLines = true
    } else if (eventHasLines) {
      // Blank lines that follow no field line (leading or repeated ones) join the next event.
      ends.push(end)
      eventHasLines = false
    }
    lineIsEmpty = true
    i = end - 1
  }
  if (ends.length === 0 || ends[ends.length - 1]! < body.length) ends.push(body.length)
  return ends
}

export const isEventStream = (contentType: string): boolean => contentType.toLowerCase().startsWith("text/event-stream")

/** Cuts a body into the writes of a pattern. An empty body gives no writes. */
export const planWrites = (body: Uint8Array, pattern: WritePattern, eventStream: boolean): Array<Uint8Array> => {
  if (body.length === 0) return []
  if (pattern === "whole") return [body]
  if (pattern === "per-event") {
    if (!eventStream) return [body]
    const writes: Array<Uint8Array> = []
    let start = 0
    for (const end of sseEventEnds(body)) {
      writes.push(body.subarray(start, end))
      start = end
    }
    return writes
  }
  const size = pattern.bytes
  if (!Number.isInteger(size) || size < 1) {
    throw new Error(`WritePattern bytes must be a positive integer, got ${size}.`)
  }
  const writes: Array<Uint8Array> = []
  for (let start = 0; start < body.length; start += size) writes.push(body.subarray(start, start + size))
  return writes
}

/** Returns the body of a recording as bytes. */
export const recordingBytes = (recording: Recording): Uint8Array =>
  typeof recording.body === "string" ? new TextEncoder().encode(recording.body) : recording.body
