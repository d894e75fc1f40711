import { describe, expect, it } from "@effect/vitest"
import { createHash } from "node:crypto"
import { generateKey, hashesEqual, hashKey, isPlausibleKey, keyFromHeaders } from "./ApiKey.js"

const headers = (values: Record<string, string>) => ({ get: (name: string) => values[name] })

describe("ApiKey", () => {
  it("generates fx- keys of 32 random bytes", () => {
    const keys = new Set(Array.from({ length: 100 }, generateKey))

    expect(keys.size).toBe(100)
    for (const key of keys) {
      expect(key).toMatch(/^fx-[A-Za-z0-9_-]{43}$/)
      expect(Buffer.from(key.slice(3), "base64url")).toHaveLength(32)
    }
  })

  it("hashes with SHA-256 as hex", () => {
    const key = generateKey()

    expect(hashKey(key)).toBe(createHash("sha256").update(key).digest("hex"))
    expect(hashesEqual(hashKey(key), hashKey(key))).toBe(true)
    expect(hashesEqual(hashKey(key), hashKey(generateKey()))).toBe(false)
    expect(hashesEqual(hashKey(key), "not hex")).toBe(false)
  })

  it("rejects strings that cannot be keys", () => {
    expect(isPlausibleKey(generateKey())).toBe(true)
    expect(isPlausibleKey("sk-proj-abc")).toBe(false)
    expect(isPlausibleKey("fx-short")).toBe(false)
    expect(isPlausibleKey(`fx-${"a".repeat(300)}`)).toBe(false)
    expect(isPlausibleKey(`fx-${"a".repeat(40)} `)).toBe(false)
  })

  it("prefers the header that holds a Fluxen key", () => {
    const key = generateKey()

    expect(keyFromHeaders(headers({ authorization: `Bearer ${key}`, "x-api-key": "sk-ant-other" }))).toBe(key)
    expect(keyFromHeaders(headers({ authorization: "Bearer sk-other", "x-api-key": key }))).toBe(key)
    expect(keyFromHeaders(headers({ authorization: "Bearer sk-other" }))).toBe("sk-other")
  })

  it("reads the key from either header", () => {
    expect(keyFromHeaders(headers({ authorization: "Bearer fx-abc" }))).toBe("fx-abc")
    expect(keyFromHeaders(headers({ authorization: "bearer   fx-abc  " }))).toBe("fx-abc")
    expect(keyFromHeaders(headers({ "x-api-key": " fx-abc " }))).toBe("fx-abc")
    expect(keyFromHeaders(headers({ authorization: "Basic dXNlcjpwYXNz", "x-api-key": "fx-abc" }))).toBe("fx-abc")
    expect(keyFromHeaders(headers({ authorization: "Bearer" }))).toBeUndefined()
    expect(keyFromHeaders(headers({}))).toBeUndefined()
  })
})
