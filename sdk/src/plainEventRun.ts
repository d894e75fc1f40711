/**
 * Finding the events at the start of a network read of an OpenAI-style chat
 * or completions stream that a gateway can relay as the bytes they came in.
 *
 * Most events of such a stream carry a few tokens and nothing the gateway
 * acts on (see `notableContent`). Take a read of whole events of the plain
 * form `data: {...}`, each ended by a blank line, none with a usage object or
 * an error. Its bytes go to the client unchanged, and nothing is decoded,
 * parsed or formatted again. The markers are searched in the
 * bytes with the rules that `notableContent` applies to an event's text.
 */

/** The leading events of a read that need no parsing. */
export interface PlainEventRun {
  /** Index just past the blank line of the last event of the run. */
  readonly end: number
  /** Number of events in `[0, end)`, at least one. */
  readonly events: number
  /** True when one of them carries a finish reason, which completes the streamed response. */
  readonly finish: boolean
}

// The same markers as `notableContent` looks for. A usage object or an error needs a parse, and
// so does an empty finish reason, which ends nothing.
const NOTABLE_KEYS = /"(?:usage"\s*:\s*\{|finish_reason"\s*:\s*"|error")/g
const FINISH_INITIAL = 0x66 // "f", as in "finish_reason"
const QUOTE = 0x22
const DATA_OBJECT = "data: {"

type NodeBuffer = Uint8Array & { readonly latin1Slice?: (start: number, end: number) => string }

// Windows-1252, which the Encoding standard gives for "latin1", also maps each byte to one
// character, so indices in the text are indices in the bytes.
const singleByte = new TextDecoder("latin1")

/**
 * Reads the bytes as text of one character per byte. Searching that text is much cheaper than
 * searching the bytes: Node's `Buffer.indexOf` costs a native call each time. UTF-8 sequences
 * become other characters, which match none of the ASCII patterns searched for.
 */
const byteText = (bytes: Uint8Array): string =>
  (bytes as NodeBuffer).latin1Slice === undefined ? singleByte.decode(bytes) : (bytes as NodeBuffer).latin1Slice!(0, bytes.length)

interface Markers {
  /** Index of the first marker that needs a parse, or the text's length. */
  readonly stop: number
  /** Index of the first finish reason before `stop`, or the text's length. */
  readonly finish: number
}

const findMarkers = (text: string): Markers => {
  let finish = text.length
  NOTABLE_KEYS.lastIndex = 0
  for (let match = NOTABLE_KEYS.exec(text); match !== null; match = NOTABLE_KEYS.exec(text)) {
    const isFinish = match[0].charCodeAt(1) === FINISH_INITIAL
    if (!isFinish || text.charCodeAt(NOTABLE_KEYS.lastIndex) === QUOTE) return { stop: match.index, finish }
    if (finish === text.length) finish = match.index
    // The next search starts at the value's opening quote, so that a reason of "error" is found.
    NOTABLE_KEYS.lastIndex--
  }
  return { stop: text.length, finish }
}

/**
 * Returns the run of plain events that starts `bytes`, or undefined when the
 * first event is not plain, is incomplete, or the read contains a CR (a stream
 * with CRLF line ends is parsed). `bytes` must start at an event boundary.
 */
export const findPlainEventRun = (bytes: Uint8Array): PlainEventRun | undefined => {
  const text = byteText(bytes)
  if (!text.startsWith(DATA_OBJECT) || text.indexOf("\r") !== -1) return undefined
  const markers = findMarkers(text)

  let end = 0
  let events = 0
  while (text.startsWith(DATA_OBJECT, end)) {
    const lineEnd = text.indexOf("\n", end + DATA_OBJECT.length)
    // One data line containing a JSON object, then the blank line that ends the event. An event
    // that contains a marker needing a parse ends the run before it.
    if (lineEnd === -1 || lineEnd > markers.stop || text.charCodeAt(lineEnd + 1) !== 0x0a || text.charCodeAt(lineEnd - 1) !== 0x7d) break
    end = lineEnd + 2
    events++
  }
  return events === 0 ? undefined : { end, events, finish: markers.finish < end }
}
