/**
 * Request ids as RFC 9562 UUIDs of version 7: a 48-bit Unix timestamp in milliseconds, then
 * random bits. Ids of later milliseconds sort after earlier ones, both as bytes and as lowercase
 * text, so new rows land at the right-hand end of a primary-key B-tree instead of at random pages.
 *
 * Uses only Web Crypto (`globalThis.crypto.getRandomValues`), which Node 20 and Deno 2 provide.
 */

// Character codes of the lowercase hex digits, indexed by digit value.
const hexDigitCodes: ReadonlyArray<number> = Array.from("0123456789abcdef", (digit) => digit.charCodeAt(0))
const dash = 0x2d
const versionDigit = 0x37

const hexDigit = (nibble: number): number => hexDigitCodes[nibble]!

// One `getRandomValues` call took about 4 µs whether it filled 8 bytes or 4 KiB (Node 20 on a
// 2-vCPU Xeon VM), so random bytes are drawn in 4 KiB blocks. Each id takes 8 bytes, and each new
// millisecond 2 more for the counter seed.
const randomPool = new Uint8Array(4096)
let randomOffset = randomPool.length

const reserveRandomBytes = (count: number): number => {
  if (randomOffset + count > randomPool.length) {
    globalThis.crypto.getRandomValues(randomPool)
    randomOffset = 0
  }
  const offset = randomOffset
  randomOffset += count
  return offset
}

// The 12 `rand_a` bits after the version are a counter, as in RFC 9562 section 6.2, method 1
// ("fixed bit-length dedicated counter"). Each new millisecond seeds it with 11 random bits and a
// leading zero, so it can count at least 2,048 more ids before it rolls over.
const maxCounter = 0xfff
let lastMillis = -1
let counter = 0

const seedCounter = (): void => {
  const offset = reserveRandomBytes(2)
  counter = ((randomPool[offset]! & 0x07) << 8) | randomPool[offset + 1]!
}

const advanceClock = (): void => {
  const now = Date.now()
  if (now > lastMillis) {
    lastMillis = now
    seedCounter()
    return
  }

  // In the same millisecond, or after the clock stepped back, the previous timestamp is kept, so
  // the ids of one process never decrease. A counter that rolls over moves the timestamp one
  // millisecond ahead of the clock. NOTE: after a backward step, ids keep the timestamp from
  // before the step until the clock passes it again.
  counter++
  if (counter > maxCounter) {
    lastMillis++
    seedCounter()
  }
}

/**
 * Generates a UUID version 7 in the lowercase 8-4-4-4-12 form. Within one process each id sorts
 * after every earlier one, including ids of the same millisecond. Across processes only the
 * millisecond orders them.
 */
export const newRequestId = (): string => {
  advanceClock()

  // 2^32 splits the 48-bit timestamp, because bitwise operators work on 32-bit integers.
  const high = Math.floor(lastMillis / 0x1_0000_0000)
  const low = lastMillis >>> 0
  const offset = reserveRandomBytes(8)
  // Variant bits 10, then 62 random bits.
  const variant = 0x80 | (randomPool[offset]! & 0x3f)
  const random1 = randomPool[offset + 1]!
  const random2 = randomPool[offset + 2]!
  const random3 = randomPool[offset + 3]!
  const random4 = randomPool[offset + 4]!
  const random5 = randomPool[offset + 5]!
  const random6 = randomPool[offset + 6]!
  const random7 = randomPool[offset + 7]!

  // One fromCharCode call builds a flat string. Concatenating 2-digit strings from a table took
  // about four times as long on the VM named above.
  return String.fromCharCode(
    hexDigit(high >>> 12),
    hexDigit((high >>> 8) & 0xf),
    hexDigit((high >>> 4) & 0xf),
    hexDigit(high & 0xf),
    hexDigit(low >>> 28),
    hexDigit((low >>> 24) & 0xf),
    hexDigit((low >>> 20) & 0xf),
    hexDigit((low >>> 16) & 0xf),
    dash,
    hexDigit((low >>> 12) & 0xf),
    hexDigit((low >>> 8) & 0xf),
    hexDigit((low >>> 4) & 0xf),
    hexDigit(low & 0xf),
    dash,
    versionDigit,
    hexDigit(counter >>> 8),
    hexDigit((counter >>> 4) & 0xf),
    hexDigit(counter & 0xf),
    dash,
    hexDigit(variant >>> 4),
    hexDigit(variant & 0xf),
    hexDigit(random1 >>> 4),
    hexDigit(random1 & 0xf),
    dash,
    hexDigit(random2 >>> 4),
    hexDigit(random2 & 0xf),
    hexDigit(random3 >>> 4),
    hexDigit(random3 & 0xf),
    hexDigit(random4 >>> 4),
    hexDigit(random4 & 0xf),
    hexDigit(random5 >>> 4),
    hexDigit(random5 & 0xf),
    hexDigit(random6 >>> 4),
    hexDigit(random6 & 0xf),
    hexDigit(random7 >>> 4),
    hexDigit(random7 & 0xf)
  )
}
