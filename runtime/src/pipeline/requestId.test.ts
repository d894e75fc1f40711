import { afterEach, beforeEach, describe, expect, it, vi } from "vitest"

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

// Reads the Unix milliseconds from the first 48 bits.
const timestampOf = (id: string): number => Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16)

// Reads the counter from the 12 bits after the version nibble.
const counterOf = (id: string): number => Number.parseInt(id.slice(15, 18), 16)

const waitForNextMillisecond = (): number => {
  const start = Date.now()
  let now = start
  while (now === start) {
    now = Date.now()
  }
  return now
}

describe("newRequestId", () => {
  // The generator keeps the last timestamp in module state, so each test loads a fresh copy and
  // a mocked clock in one test cannot hold back the timestamps of the next.
  let newRequestId: () => string

  beforeEach(async () => {
    vi.resetModules()
    newRequestId = (await import("./requestId.js")).newRequestId
  })

  afterEach(() => {
    vi.restoreAllMocks()
  })

  it("formats a lowercase UUID", () => {
    for (let index = 0; index < 1000; index++) {
      expect(newRequestId()).toMatch(uuidPattern)
    }
  })

  it("sets version 7 and variant 10", () => {
    for (let index = 0; index < 1000; index++) {
      const id = newRequestId()
      expect(id[14]).toBe("7")
      expect(["8", "9", "a", "b"]).toContain(id[19])
    }
  })

  it("embeds the current time", () => {
    const before = Date.now()
    const id = newRequestId()
    const after = Date.now()

    expect(timestampOf(id)).toBeGreaterThanOrEqual(before)
    expect(timestampOf(id)).toBeLessThanOrEqual(after)
  })

  it("embeds a 48-bit timestamp", () => {
    // 2^48 - 2 ms, the year 10889.
    vi.spyOn(Date, "now").mockReturnValue(0xffff_ffff_fffe)

    const id = newRequestId()

    expect(id.slice(0, 13)).toBe("ffffffff-fffe")
    expect(timestampOf(id)).toBe(0xffff_ffff_fffe)
  })

  it("never repeats an id", () => {
    const count = 200_000
    const ids = new Set<string>()
    for (let index = 0; index < count; index++) {
      ids.add(newRequestId())
    }

    expect(ids.size).toBe(count)
  })

  it("orders ids across milliseconds", () => {
    const ids: Array<string> = []
    for (let step = 0; step < 20; step++) {
      ids.push(newRequestId())
      waitForNextMillisecond()
    }

    expect([...ids].sort()).toEqual(ids)
    for (let index = 1; index < ids.length; index++) {
      expect(timestampOf(ids[index]!)).toBeGreaterThan(timestampOf(ids[index - 1]!))
    }
  })

  it("orders ids within one millisecond", () => {
    const now = Date.now() + 1_000_000
    vi.spyOn(Date, "now").mockReturnValue(now)

    const ids = Array.from({ length: 1000 }, () => newRequestId())

    expect([...ids].sort()).toEqual(ids)
    expect(timestampOf(ids[0]!)).toBe(now)
    expect(counterOf(ids[0]!)).toBeLessThanOrEqual(0x7ff)
  })

  it("advances timestamp on counter overflow", () => {
    const now = Date.now() + 2_000_000
    vi.spyOn(Date, "now").mockReturnValue(now)

    // The counter starts at 2,047 or lower, so 4,097 ids in one millisecond overflow it.
    const ids = Array.from({ length: 4097 }, () => newRequestId())

    expect([...ids].sort()).toEqual(ids)
    expect(new Set(ids).size).toBe(ids.length)
    expect(timestampOf(ids[ids.length - 1]!)).toBe(now + 1)
  })

  it("keeps order after clock steps back", () => {
    const now = Date.now() + 3_000_000
    const clock = vi.spyOn(Date, "now").mockReturnValue(now)
    const beforeStep = newRequestId()

    clock.mockReturnValue(now - 60_000)
    const afterStep = newRequestId()

    expect(afterStep > beforeStep).toBe(true)
    expect(timestampOf(afterStep)).toBe(now)
  })
})
