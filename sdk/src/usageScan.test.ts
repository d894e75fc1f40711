import { readdirSync, readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { scanUsageObject } from "./usageScan.js"

const encoder = new TextEncoder()
const scan = (text: string) => scanUsageObject(encoder.encode(text))

const fixturesDir = new URL("../../../shared/fixtures/openai/", import.meta.url)

describe("scanUsageObject", () => {
  it("recorded bodies: same as full parse", () => {
    let checked = 0
    for (const folder of ["chat-completions", "embeddings"]) {
      const dir = new URL(`${folder}/`, fixturesDir)
      for (const name of readdirSync(dir).filter((file) => file.endsWith(".json"))) {
        const bytes = new Uint8Array(readFileSync(new URL(name, dir)))
        const body = JSON.parse(new TextDecoder().decode(bytes)) as { usage?: unknown; error?: unknown }
        if (body.error !== undefined) continue
        expect(scanUsageObject(bytes), `${folder}/${name}`).toEqual(body.usage)
        checked++
      }
    }
    expect(checked).toBeGreaterThan(3)
  })

  it("usage in strings or values", () => {
    const body = JSON.stringify({
      choices: [{ message: { content: 'He said "usage": {"prompt_tokens": 1} and \\"usage\\"' } }],
      note: "usage",
      usage: { prompt_tokens: 7, completion_tokens: 3, prompt_tokens_details: { cached_tokens: 2 } },
      system_fingerprint: "fp"
    })
    expect(scan(body)).toEqual({ prompt_tokens: 7, completion_tokens: 3, prompt_tokens_details: { cached_tokens: 2 } })
  })

  it("whitespace and braces in strings", () => {
    expect(scan(' {\n "usage" :\t{ "a": 1, "s": "}{\\"" } \r\n}\n')).toEqual({ a: 1, s: '}{"' })
  })

  it("usage missing, null or not an object", () => {
    expect(scan('{"choices":[]}')).toBeUndefined()
    expect(scan('{"usage":null}')).toBeUndefined()
    expect(scan('{"usage":"many"}')).toBeUndefined()
    expect(scan('{"name":"usage"}')).toBeUndefined()
  })

  it("body not one JSON object", () => {
    expect(scan('[{"usage":{"a":1}}]')).toBeUndefined()
    expect(scan('{"usage":{"a":1}')).toBeUndefined()
    expect(scan('{"usage":{"a":1}} trailing')).toBeUndefined()
    expect(scan('{"usage":{"a":1,}}')).toBeUndefined()
    expect(scan("")).toBeUndefined()
  })
})

describe("scanUsageObject on nesting", () => {
  it("nested usage key", () => {
    expect(scan('{"usage":{"a":1},"x_groq":{"usage":{"a":2}}}')).toBeUndefined()
    expect(scan('{"data":[{"usage":{"a":1}}]}')).toBeUndefined()
  })

  it("top-level usage before other keys", () => {
    expect(scan('{"usage":{"a":1},"tags":["}",{"b":[1,2]}],"fp":"x"}')).toEqual({ a: 1 })
  })
})

describe("scanUsageObject on large bodies", () => {
  it("usage far from the end", () => {
    const body = JSON.stringify({ usage: { a: 1 }, data: "x".repeat(20_000) })
    expect(scan(body)).toBeUndefined()
  })

  it("usage after a large array", () => {
    const body = JSON.stringify({ data: [{ embedding: "A".repeat(100_000) }], usage: { prompt_tokens: 4, total_tokens: 4 } })
    expect(scan(body)).toEqual({ prompt_tokens: 4, total_tokens: 4 })
  })
})
