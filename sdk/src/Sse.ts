/**
 * Incremental parser and serializer for server-sent events (`text/event-stream`),
 * following the event stream interpretation rules of the WHATWG HTML standard.
 */

export interface SseEvent {
  /** The `event:` field, absent when the event had none. */
  readonly event?: string
  /** The `data:` lines joined with "\n", per the SSE rules. */
  readonly data: string
  /** The `id:` field, when present. */
  readonly id?: string
}

/** Thrown by {@link SseParser.push} when one event grows past `maxEventBytes`. */
export class SseEventTooLargeError extends Error {
  override readonly name = "SseEventTooLargeError"

  constructor(
    readonly maxEventBytes: number,
    readonly receivedBytes: number
  ) {
    super(
      `SSE event exceeds maxEventBytes (${maxEventBytes} bytes) with ${receivedBytes} bytes received so far. ` +
        "Raise maxEventBytes if the upstream legitimately sends events this large."
    )
  }
}

const LF = 0x0a
const CR = 0x0d
const COLON = 0x3a
const SPACE = 0x20

const BOM = [0xef, 0xbb, 0xbf] as const
const DATA = [0x64, 0x61, 0x74, 0x61] as const
const EVENT = [0x65, 0x76, 0x65, 0x6e, 0x74] as const
const ID = [0x69, 0x64] as const

const DEFAULT_MAX_EVENT_BYTES = 8 * 1024 * 1024
const MIN_CARRY_CAPACITY = 1024
// A carry buffer larger than this is released after its line completes, so one
// long line does not pin its memory for the rest of the stream.
const RETAINED_CARRY_CAPACITY = 64 * 1024

const EMPTY = new Uint8Array(0)

// Lines are cut at CR and LF bytes before decoding. UTF-8 never uses those bytes
// inside a multi-byte sequence, so every complete line decodes on its own, with
// the same result as decoding the whole stream at once. `ignoreBOM` keeps a
// U+FEFF that starts a field value, because the rules strip only the BOM that
// opens the stream, and the parser does that itself.
const utf8 = new TextDecoder("utf-8", { ignoreBOM: true })

/**
 * Splits a byte stream into SSE events as the bytes arrive.
 *
 * The scan is linear in the input. A line that is still unfinished at the end
 * of a chunk is copied into a carry buffer, and the next push searches only the
 * new bytes, so a line of several megabytes costs linear time.
 *
 * Three choices differ from the browser `EventSource`. `event` is absent
 * instead of defaulting to "message". `id` is reported only on the event that
 * carried it, so a client that needs Last-Event-ID keeps the last one itself.
 * `retry:` is ignored because the parser never reconnects.
 *
 * The size limit counts the bytes of an event's field lines without their line
 * terminators. Comment lines do not count once complete, but an unfinished line
 * counts whatever its kind, because the carry buffer has to hold it. After
 * {@link SseEventTooLargeError} the parser is failed, so `push` and `end` throw
 * the same error again. Events completed earlier in the failing chunk are lost
 * with it.
 */
export class SseParser {
  readonly #maxEventBytes: number

  // Bytes of the unfinished last line. Only [0, #carryLength) is valid.
  #carry: Uint8Array = EMPTY
  #carryLength = 0

  // True when the previous chunk ended with CR, so an LF that opens the next
  // chunk is the second half of a CRLF and not an empty line.
  #skipLeadingLf = false

  // The first bytes of the stream, held until three bytes show whether they are a BOM.
  #atStreamStart = true
  #startBytes: Uint8Array = EMPTY

  #data = ""
  #dataLines = 0
  #eventType = ""
  #id: string | undefined = undefined
  #eventBytes = 0

  #ended = false
  #failure: SseEventTooLargeError | undefined = undefined

  constructor(options?: { readonly maxEventBytes?: number }) {
    const maxEventBytes = options?.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES
    if (!Number.isSafeInteger(maxEventBytes) || maxEventBytes < 1) {
      throw new RangeError(`maxEventBytes must be a positive integer, got ${maxEventBytes}`)
    }
    this.#maxEventBytes = maxEventBytes
  }

  /** Feeds bytes from the network and returns the events they complete, possibly none. */
  push(chunk: Uint8Array): Array<SseEvent> {
    if (this.#failure !== undefined) throw this.#failure
    if (this.#ended) throw new Error("SseParser.push was called after end(); create a new parser for each stream")

    const events: Array<SseEvent> = []
    const bytes = this.#atStreamStart ? this.#takeStreamStart(chunk) : chunk
    const length = bytes.length
    let pos = 0

    if (this.#skipLeadingLf && length > 0) {
      this.#skipLeadingLf = false
      if (bytes[0] === LF) pos = 1
    }

    // Positions of the next LF and CR at or after `pos`, or `length` when there
    // is none. Each is searched again only once `pos` has moved past it, which
    // keeps the scan linear for streams that use only one of the two.
    let nextLf = -1
    let nextCr = -1

    while (pos < length) {
      if (nextLf < pos) nextLf = indexOrLength(bytes, LF, pos)
      if (nextCr < pos) nextCr = indexOrLength(bytes, CR, pos)
      const lineEnd = nextLf < nextCr ? nextLf : nextCr

      if (lineEnd === length) {
        this.#appendCarry(bytes, pos, length)
        break
      }

      if (this.#carryLength > 0) {
        this.#appendCarry(bytes, pos, lineEnd)
        this.#processLine(this.#carry, 0, this.#carryLength, events)
        this.#releaseCarry()
      } else {
        this.#processLine(bytes, pos, lineEnd, events)
      }

      pos = lineEnd + 1
      if (bytes[lineEnd] === CR) {
        if (pos === length) this.#skipLeadingLf = true
        else if (bytes[pos] === LF) pos++
      }
    }

    return events
  }

  /**
   * True when the parser contains no part of a line or an event, so that the next
   * bytes start a new event. Whole events may then be read without the parser
   * (see {@link SseParser.skippedEvents}).
   */
  get betweenEvents(): boolean {
    return (
      this.#carryLength === 0 &&
      this.#dataLines === 0 &&
      this.#eventType === "" &&
      this.#id === undefined &&
      !this.#skipLeadingLf &&
      this.#startBytes.length === 0 &&
      this.#failure === undefined &&
      !this.#ended
    )
  }

  /**
   * Notes that whole events were read without the parser while it was
   * {@link SseParser.betweenEvents}. The stream has then started, so a BOM in
   * the next bytes is data, not the stream's opening mark.
   */
  skippedEvents(): void {
    this.#atStreamStart = false
  }

  /** Signals end of input and returns []. An unterminated trailing event is dropped, as the SSE rules require. */
  end(): Array<SseEvent> {
    if (this.#failure !== undefined) throw this.#failure
    this.#ended = true
    this.#carry = EMPTY
    this.#carryLength = 0
    this.#startBytes = EMPTY
    this.#resetEvent()
    return []
  }

  // Returns the part of `chunk` after a leading BOM. The three BOM bytes may
  // arrive in separate chunks, so a proper prefix of the BOM is held back.
  #takeStreamStart(chunk: Uint8Array): Uint8Array {
    const bytes = this.#startBytes.length === 0 ? chunk : concatBytes(this.#startBytes, chunk)
    const checked = Math.min(bytes.length, BOM.length)
    for (let i = 0; i < checked; i++) {
      if (bytes[i] !== BOM[i]) {
        this.#atStreamStart = false
        this.#startBytes = EMPTY
        return bytes
      }
    }
    if (bytes.length < BOM.length) {
      // Copied because the caller may reuse the chunk's memory.
      this.#startBytes = bytes.slice()
      return EMPTY
    }
    this.#atStreamStart = false
    this.#startBytes = EMPTY
    return bytes.subarray(BOM.length)
  }

  #appendCarry(bytes: Uint8Array, start: number, end: number): void {
    const added = end - start
    if (added === 0) return
    const needed = this.#carryLength + added
    const eventSize = this.#eventBytes + needed
    if (eventSize > this.#maxEventBytes) throw this.#fail(eventSize)

    if (needed > this.#carry.length) {
      // Doubling keeps the total copying linear. `needed` never exceeds the
      // limit here, so the cap still leaves room for it.
      const capacity = Math.min(Math.max(needed, this.#carry.length * 2, MIN_CARRY_CAPACITY), this.#maxEventBytes)
      const grown = new Uint8Array(capacity)
      grown.set(this.#carry.subarray(0, this.#carryLength))
      this.#carry = grown
    }
    this.#carry.set(bytes.subarray(start, end), this.#carryLength)
    this.#carryLength = needed
  }

  #releaseCarry(): void {
    this.#carryLength = 0
    if (this.#carry.length > RETAINED_CARRY_CAPACITY) this.#carry = EMPTY
  }

  // Applies one line, `bytes[start, end)` without its terminator.
  #processLine(bytes: Uint8Array, start: number, end: number, events: Array<SseEvent>): void {
    if (start === end) {
      this.#dispatch(events)
      return
    }
    if (bytes[start] === COLON) return

    this.#eventBytes += end - start
    if (this.#eventBytes > this.#maxEventBytes) throw this.#fail(this.#eventBytes)

    let colon = start
    while (colon < end && bytes[colon] !== COLON) colon++
    let valueStart = end
    if (colon < end) {
      valueStart = colon + 1
      if (valueStart < end && bytes[valueStart] === SPACE) valueStart++
    }
    const nameLength = colon - start

    if (nameLength === DATA.length && hasName(bytes, start, DATA)) {
      const value = decode(bytes, valueStart, end)
      this.#data = this.#dataLines === 0 ? value : this.#data + "\n" + value
      this.#dataLines++
    } else if (nameLength === EVENT.length && hasName(bytes, start, EVENT)) {
      this.#eventType = decode(bytes, valueStart, end)
    } else if (nameLength === ID.length && hasName(bytes, start, ID)) {
      const value = decode(bytes, valueStart, end)
      // The rules ignore an id that contains NULL.
      if (!value.includes("\u0000")) this.#id = value
    }
  }

  #dispatch(events: Array<SseEvent>): void {
    // The rules dispatch nothing for an event without data lines. A `data:` line
    // with an empty value still counts, so `#dataLines` is checked, not `#data`.
    if (this.#dataLines > 0) {
      const event: { data: string; event?: string; id?: string } = { data: this.#data }
      if (this.#eventType !== "") event.event = this.#eventType
      if (this.#id !== undefined) event.id = this.#id
      events.push(event)
    }
    this.#resetEvent()
  }

  #resetEvent(): void {
    this.#data = ""
    this.#dataLines = 0
    this.#eventType = ""
    this.#id = undefined
    this.#eventBytes = 0
  }

  #fail(receivedBytes: number): SseEventTooLargeError {
    this.#failure = new SseEventTooLargeError(this.#maxEventBytes, receivedBytes)
    this.#carry = EMPTY
    this.#carryLength = 0
    this.#resetEvent()
    return this.#failure
  }
}

/**
 * Serializes one event to SSE text that ends with a blank line. The `event:`
 * and `id:` lines appear only when those fields are set, and data with line
 * breaks becomes one `data:` line per line. Throws when `event` or `id`
 * contains CR or LF, which cannot be encoded.
 */
export const formatSseEvent = (event: SseEvent): string => {
  let text = ""
  if (event.event !== undefined) text += `event: ${requireSingleLine("event", event.event)}\n`
  if (event.id !== undefined) text += `id: ${requireSingleLine("id", event.id)}\n`

  const data = event.data
  if (data.indexOf("\n") === -1 && data.indexOf("\r") === -1) return `${text}data: ${data}\n\n`

  // A parser ends a line at CRLF, CR or LF, so each of them starts a new data line.
  let lineStart = 0
  for (let i = 0; i < data.length; i++) {
    const code = data.charCodeAt(i)
    if (code !== LF && code !== CR) continue
    text += `data: ${data.slice(lineStart, i)}\n`
    if (code === CR && data.charCodeAt(i + 1) === LF) i++
    lineStart = i + 1
  }
  return `${text}data: ${data.slice(lineStart)}\n\n`
}

const requireSingleLine = (field: string, value: string): string => {
  if (value.indexOf("\n") !== -1 || value.indexOf("\r") !== -1) {
    throw new Error(`formatSseEvent: the ${field} field must not contain CR or LF, got ${JSON.stringify(value)}`)
  }
  return value
}

const indexOrLength = (bytes: Uint8Array, byte: number, from: number): number => {
  const index = bytes.indexOf(byte, from)
  return index === -1 ? bytes.length : index
}

const hasName = (bytes: Uint8Array, start: number, name: ReadonlyArray<number>): boolean => {
  for (let i = 0; i < name.length; i++) {
    if (bytes[start + i] !== name[i]) return false
  }
  return true
}

type NodeBuffer = Uint8Array & { readonly utf8Slice?: (start: number, end: number) => string }

// Node's Buffer (what undici delivers) decodes a range without the view object that
// `subarray` makes for each line. Both replace invalid sequences with U+FFFD and keep a BOM.
const decode = (bytes: NodeBuffer, start: number, end: number): string => {
  if (start === end) return ""
  return bytes.utf8Slice === undefined ? utf8.decode(bytes.subarray(start, end)) : bytes.utf8Slice(start, end)
}

const concatBytes = (first: Uint8Array, second: Uint8Array): Uint8Array => {
  const joined = new Uint8Array(first.length + second.length)
  joined.set(first)
  joined.set(second, first.length)
  return joined
}
