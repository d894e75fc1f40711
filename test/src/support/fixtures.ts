/**
 * Loads the recorded provider responses kept in the `shared/fixtures` folder
 * next to the repository, ready to be served by the replaying upstream.
 */
import { readFileSync } from "node:fs"
import { posix } from "node:path"

/**
 * The fixtures folder. It is resolved relative to this file because CI clones
 * the repository next to `shared/`. The path has the same depth from
 * `test/src/support` and from the compiled `test/dist/support`.
 */
export const fixturesDir: URL = new URL("../../../../shared/fixtures/", import.meta.url)

/** The first folder of a fixture path, which names the provider API family. */
export type FixtureProvider = "openai" | "openai-compatible" | "anthropic" | "gemini"

export interface Fixture {
  /** Path relative to {@link fixturesDir}, e.g. `openai/chat-completions/text.json`. */
  readonly path: string
  readonly provider: FixtureProvider
  /** HTTP status: the number in an `error-<status>-` file name, otherwise 200. */
  readonly status: number
  readonly contentType: string
  /** The response body as it goes on the wire. A `.chunks.txt` file is already framed as SSE. */
  readonly body: Buffer
}

export interface LoadFixtureOptions {
  /**
   * Ends an `.sse` body with a blank line when the recording lost it, so the
   * last event is not dropped by a parser that follows the SSE rules. Default true.
   */
  readonly terminateLastEvent?: boolean
}

/** Byte range `[start, end)` of one event in an SSE body, including the blank line that ends it. */
export interface EventRange {
  readonly start: number
  readonly end: number
}

const PROVIDERS: ReadonlyArray<FixtureProvider> = ["openai", "openai-compatible", "anthropic", "gemini"]
const EVENT_STREAM = "text/event-stream"
const JSON_TYPE = "application/json"
const LF = 0x0a
const CR = 0x0d

/**
 * Reads one fixture and derives its status and content type from its name.
 * Throws when the path leaves the fixtures folder, names an unknown provider
 * or format, or does not exist.
 */
export const loadFixture = (relPath: string, options?: LoadFixtureOptions): Fixture => {
  const path = posix.normalize(relPath)
  if (path.startsWith("../") || path === ".." || posix.isAbsolute(path)) {
    throw new Error(`Fixture path must be relative to the fixtures folder, got ${JSON.stringify(relPath)}`)
  }

  const provider = path.slice(0, path.indexOf("/"))
  if (!isProvider(provider)) {
    throw new Error(`Fixture path ${JSON.stringify(relPath)} does not start with a provider folder (${PROVIDERS.join(", ")})`)
  }

  const raw = readFixtureFile(path)
  const fileName = posix.basename(path)
  const status = statusFromName(fileName)

  if (fileName.endsWith(".chunks.txt")) {
    return { path, provider, status, contentType: EVENT_STREAM, body: frameChunks(path, provider, raw) }
  }
  if (fileName.endsWith(".sse")) {
    const terminate = options?.terminateLastEvent ?? true
    return { path, provider, status, contentType: EVENT_STREAM, body: terminate ? terminateLastEvent(raw) : raw }
  }
  if (fileName.endsWith(".json")) {
    // Gemini's streaming endpoint sent its JSON error body as text/event-stream,
    // and the replay keeps that header so the gateway meets the same mismatch.
    const sentAsStream = provider === "gemini" && path.startsWith("gemini/stream-generate-content/")
    return { path, provider, status, contentType: sentAsStream ? EVENT_STREAM : JSON_TYPE, body: raw }
  }
  throw new Error(`Fixture ${JSON.stringify(relPath)} has an unknown format. Expected .json, .sse or .chunks.txt.`)
}

/**
 * Splits an SSE body into events. An event ends after the line terminator of
 * the blank line that closes it (LF, CR or CRLF). The ranges cover the whole
 * body in order, and an unterminated tail becomes the last range.
 */
export const splitEvents = (body: Uint8Array): Array<EventRange> => {
  const { ranges, closedEnd } = scanEvents(body)
  if (closedEnd < body.length) ranges.push({ start: closedEnd, end: body.length })
  return ranges
}

// Returns the ranges of the closed events and the offset where the last one ends.
const scanEvents = (body: Uint8Array): { ranges: Array<EventRange>; closedEnd: number } => {
  const ranges: Array<EventRange> = []
  let start = 0
  let atLineStart = true
  let i = 0

  while (i < body.length) {
    const byte = body[i]
    if (byte !== LF && byte !== CR) {
      atLineStart = false
      i++
      continue
    }
    const terminatorEnd = byte === CR && body[i + 1] === LF ? i + 2 : i + 1
    if (atLineStart) {
      ranges.push({ start, end: terminatorEnd })
      start = terminatorEnd
    }
    atLineStart = true
    i = terminatorEnd
  }

  return { ranges, closedEnd: start }
}

const isProvider = (value: string): value is FixtureProvider => (PROVIDERS as ReadonlyArray<string>).includes(value)

const readFixtureFile = (path: string): Buffer => {
  const url = new URL(path, fixturesDir)
  try {
    return readFileSync(url)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      throw new Error(`Fixture not found: ${path} (looked in ${fixturesDir.pathname})`)
    }
    throw error
  }
}

const statusFromName = (fileName: string): number => {
  const match = /^error-(\d{3})-/.exec(fileName)
  return match?.[1] === undefined ? 200 : Number(match[1])
}

// Turns one JSON payload a line into the SSE framing each provider uses.
const frameChunks = (path: string, provider: FixtureProvider, raw: Buffer): Buffer => {
  // Whitespace inside a line is payload, so lines are not trimmed. Only the
  // empty line after a trailing newline is skipped.
  const lines = raw
    .toString("utf8")
    .split("\n")
    .filter((line) => line !== "")

  let text = ""
  switch (provider) {
    case "openai":
    case "openai-compatible":
      for (const line of lines) text += `data: ${line}\n\n`
      text += "data: [DONE]\n\n"
      break
    case "anthropic":
      lines.forEach((line, index) => {
        text += `event: ${anthropicEventType(path, index, line)}\ndata: ${line}\n\n`
      })
      break
    case "gemini":
      for (const line of lines) text += `data: ${line}\r\n\r\n`
      break
  }
  return Buffer.from(text, "utf8")
}

const anthropicEventType = (path: string, index: number, line: string): string => {
  let type: unknown
  try {
    type = (JSON.parse(line) as { type?: unknown }).type
  } catch (error) {
    throw new Error(`Fixture ${path}, line ${index + 1}: invalid JSON (${(error as Error).message})`)
  }
  if (typeof type !== "string") {
    throw new Error(`Fixture ${path}, line ${index + 1}: the payload has no string "type" to use as the event name`)
  }
  return type
}

// Appends what is missing for the body to end with a blank line: a whole blank
// line after an unterminated last line, or one LF after a terminated one.
const terminateLastEvent = (body: Buffer): Buffer => {
  if (body.length === 0 || scanEvents(body).closedEnd === body.length) return body
  const lastByte = body[body.length - 1]
  const suffix = lastByte === LF || lastByte === CR ? "\n" : "\n\n"
  return Buffer.concat([body, Buffer.from(suffix)])
}
