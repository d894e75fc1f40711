/**
 * A stream event whose JSON payload is parsed when `json` is first read.
 *
 * Most events of a chat stream carry a few tokens of text and nothing the
 * gateway acts on: no usage, no finish reason, no error. Parsing each one
 * costs more than relaying it, so an adapter can pass these on unparsed.
 * The code that needs the payload (a plugin assembling the response, the
 * token count of a cancelled stream) parses it.
 */
import type { StreamEvent } from "./Provider.js"
import type { SseEvent } from "./Sse.js"
import { isJsonWhitespace } from "./usageScan.js"

/**
 * Checks whether an OpenAI-style chunk may contain a usage object, a finish
 * reason or an error, judged from its text. A JSON string cannot contain an
 * unescaped `"`, so these patterns never match text inside a string. A
 * whole string value `"error"` matches too, which only costs a parse.
 */
export const mayEndOrReport = (data: string): boolean => NOTABLE_KEYS.test(data)

/** Checks that `data` starts with `{` and ends with `}`, ignoring surrounding whitespace. */
export const looksLikeJsonObject = (data: string): boolean => {
  let first = 0
  let last = data.length - 1
  while (first <= last && isJsonWhitespace(data.charCodeAt(first))) first++
  while (last > first && isJsonWhitespace(data.charCodeAt(last))) last--
  return data.charCodeAt(first) === 0x7b && data.charCodeAt(last) === 0x7d
}

const NOTABLE_KEYS = /"(?:usage"\s*:\s*\{|finish_reason"\s*:\s*"|error")/

const NOT_PARSED: unique symbol = Symbol("NOT_PARSED")

export class LazyStreamEvent implements StreamEvent {
  readonly data: string
  declare readonly event?: string
  #json: unknown = NOT_PARSED

  constructor(
    source: SseEvent,
    /** The error thrown when the payload is not valid JSON. */
    private readonly invalid: () => Error
  ) {
    this.data = source.data
    if (source.event !== undefined) this.event = source.event
  }

  get json(): unknown {
    if (this.#json === NOT_PARSED) {
      try {
        this.#json = JSON.parse(this.data)
      } catch {
        throw this.invalid()
      }
    }
    return this.#json
  }
}
