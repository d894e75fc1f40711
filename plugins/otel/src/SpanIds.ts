/**
 * Random trace and span ids. They are made when a span is exported, off the
 * request path, because no id is needed while the request runs: Fluxen adds
 * no header to the upstream call.
 */

const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"))

// One `getRandomValues` call fills the bytes of many ids, because a call per id
// took about six times as long as taking the bytes from a pool (measured with Node 20).
const POOL_BYTES = 4_096
const pool = new Uint8Array(POOL_BYTES)
let poolOffset = POOL_BYTES

/** Returns `byteCount` random bytes as lowercase hex, never all zeros, which W3C Trace Context reserves as invalid. */
const randomHex = (byteCount: number): string => {
  for (;;) {
    if (poolOffset + byteCount > POOL_BYTES) {
      crypto.getRandomValues(pool)
      poolOffset = 0
    }
    let hex = ""
    let anyBitSet = 0
    for (let index = poolOffset; index < poolOffset + byteCount; index++) {
      const byte = pool[index]!
      anyBitSet |= byte
      hex += HEX[byte]
    }
    poolOffset += byteCount
    if (anyBitSet !== 0) return hex
  }
}

/** Returns a new trace id: 16 random bytes as 32 hex digits. */
export const newTraceId = (): string => randomHex(16)

/** Returns a new span id: 8 random bytes as 16 hex digits. */
export const newSpanId = (): string => randomHex(8)
