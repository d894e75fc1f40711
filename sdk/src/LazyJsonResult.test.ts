import { describe, expect, it } from "vitest"
import { bodyIfParsed, LazyJsonResult } from "./LazyJsonResult.js"
import type { JsonResult } from "./Provider.js"

const bytesOf = (text: string) => new TextEncoder().encode(text)

/** Makes a result whose parser counts its calls and fails on invalid JSON. */
const countingResult = (text: string) => {
  const parses = { count: 0 }
  const result = new LazyJsonResult(200, { "x-ratelimit-limit-requests": "10" }, bytesOf(text), undefined, (bytes) => {
    parses.count++
    return JSON.parse(new TextDecoder().decode(bytes))
  })
  return { result, parses }
}

describe("LazyJsonResult", () => {
  it("body parsed once", () => {
    const { result, parses } = countingResult('{"id":"c1"}')

    expect(parses.count).toBe(0)
    expect(result.body).toEqual({ id: "c1" })
    expect(result.body).toBe(result.body)
    expect(parses.count).toBe(1)
    expect(result._tag).toBe("Json")
  })

  it("invalid body: throws on each read", () => {
    const { result, parses } = countingResult("{not json")

    expect(() => result.body).toThrow(SyntaxError)
    expect(() => result.body).toThrow(SyntaxError)
    expect(parses.count).toBe(2)
  })

  it("spread copy keeps the body", () => {
    const { result } = countingResult('{"id":"c1"}')
    const copy = { ...result, headers: {} }

    expect(copy.body).toEqual({ id: "c1" })
    expect(copy.status).toBe(200)
    expect(Object.keys(copy).sort()).toEqual(["_tag", "body", "bytes", "headers", "status", "usage"])
  })

  it("frozen result: parses on each read", () => {
    const { result, parses } = countingResult('{"id":"c1"}')
    Object.freeze(result)

    expect(result.body).toEqual({ id: "c1" })
    expect(result.body).toEqual({ id: "c1" })
    expect(parses.count).toBe(2)
  })

  it("derived object and redefinition", () => {
    const { result } = countingResult('{"id":"c1"}')

    expect((Object.create(result) as LazyJsonResult).body).toEqual({ id: "c1" })
    Object.defineProperty(result, "body", { value: { id: "c2" } })
    expect(result.body).toEqual({ id: "c2" })
  })

  // A getter made per result would keep the request's objects alive until a full collection.
  it("results share one getter", () => {
    const getterOf = (result: LazyJsonResult) => Object.getOwnPropertyDescriptor(result, "body")?.get

    expect(getterOf(countingResult("{}").result)).toBeTypeOf("function")
    expect(getterOf(countingResult("{}").result)).toBe(getterOf(countingResult("[]").result))
  })
})

describe("bodyIfParsed", () => {
  it("lazy body: only once parsed", () => {
    const { result, parses } = countingResult('{"model":"m"}')

    expect(bodyIfParsed(result)).toBeUndefined()
    expect(parses.count).toBe(0)
    expect(result.body).toEqual({ model: "m" })
    expect(bodyIfParsed(result)).toBe(result.body)
    expect(parses.count).toBe(1)
  })

  it("plain body: returned as is", () => {
    const body = { model: "m" }
    const result: JsonResult = { _tag: "Json", status: 200, headers: {}, body }

    expect(bodyIfParsed(result)).toBe(body)
  })

  it("other accessor: never read", () => {
    let reads = 0
    const result = Object.defineProperty({ _tag: "Json", status: 200, headers: {} }, "body", {
      enumerable: true,
      get: () => {
        reads++
        return { model: "m" }
      }
    }) as JsonResult

    expect(bodyIfParsed(result)).toBeUndefined()
    expect(reads).toBe(0)
  })
})
