/**
 * A stream event whose JSON payload is parsed when `json` is first read.
 *
 * Most events of a chat stream carry a few tokens of text and nothing the
 * gateway acts on: no usage, no error, at most a finish reason, which shows
 * in the text. Parsing each one costs more than relaying it, so an adapter
 * can pass these on unparsed.
 * The code that needs the payload (a plugin assembling the response, the
 * token count of a cancelled stream) parses it.
 */
import type { StreamEvent } from "./Provider.js"
import type { SseEvent } from "./Sse.js"
import { isJsonWhitespace } from "./usageScan.js"

/**
 * Checks whether an OpenAI-style chunk may contain a usage object, a finish
 * reason or an error, judged from its text. A JSON string cannot contain an
 * unescaped `"`, so these patterns never match text inside a string. The
 * pattern for `"error"` matches a whole string value as well as a key, so it
 * also flags a finish reason of `"error"` and vLLM's `"object": "error"`.
 */
export const mayEndOrReport = (data: string): boolean => NOTABLE_KEYS.test(data)

/**
 * Tells what an OpenAI-style chunk may carry, judged from its text as
 * {@link mayEndOrReport} does: `"plain"` for nothing notable, `"finish"` for
 * a finish reason without a usage object or the string `"error"`, and
 * `"parse"` for a chunk whose payload must be read. A finish reason of
 * `"error"` is such a string, so that chunk is parsed and its error read. A
 * stream's closing chunk usually brings only the finish reason, so it needs
 * no parse either.
 */
export const notableContent = (data: string): "plain" | "finish" | "parse" => {
  const first = NOTABLE_KEYS.exec(data)
  if (first === null) return "plain"
  if (first[0].charCodeAt(1) !== FINISH_INITIAL) return "parse"
  // An empty finish reason ends nothing, so such a chunk is parsed.
  if (data.charCodeAt(first.index + first[0].length) === QUOTE) return "parse"
  return MUST_PARSE_KEYS.test(data) ? "parse" : "finish"
}

/** Checks that `data` starts with `{` and ends with `}`, ignoring surrounding whitespace. */
export const looksLikeJsonObject = (data: string): boolean => {
  let first = 0
  let last = data.length - 1
  while (first <= last && isJsonWhitespace(data.charCodeAt(first))) first++
  while (last > first && isJsonWhitespace(data.charCodeAt(last))) last--
  return data.charCodeAt(first) === 0x7b && data.charCodeAt(last) === 0x7d
}

const NOTABLE_KEYS = /"(?:usage"\s*:\s*\{|finish_reason"\s*:\s*"|error")/
const MUST_PARSE_KEYS = /"(?:usage"\s*:\s*\{|error")/
const FINISH_INITIAL = 0x66 // "f", as in "finish_reason"
const QUOTE = 0x22

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
