import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { makeFetchTransport } from "@fluxen/sdk/testing"
import { Effect, Exit, Redacted } from "effect"
import { dot } from "../testing/vectors.js"
import { lexicalVector } from "./LexicalEmbedder.js"
import { makeProviderEmbedder, readEmbeddingsResponse, type ProviderEmbedderOptions } from "./ProviderEmbedder.js"

interface ReceivedRequest {
  readonly path: string
  readonly authorization: string | undefined
  readonly body: { model: string; input: Array<string>; encoding_format: string; dimensions?: number }
}

/**
 * An embeddings API on 127.0.0.1 that responds with lexical vectors of the
 * inputs, unnormalized and in reverse order, so the embedder must sort and
 * normalize. `reply` replaces the response to the next request.
 */
const received: Array<ReceivedRequest> = []
let reply: ((request: ReceivedRequest) => { status: number; body: unknown }) | undefined
let baseUrl = ""

const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  const chunks: Array<Buffer> = []
  req.on("data", (chunk: Buffer) => chunks.push(chunk))
  req.on("end", () => {
    const request: ReceivedRequest = {
      path: req.url ?? "",
      authorization: req.headers.authorization,
      body: JSON.parse(Buffer.concat(chunks).toString("utf8"))
    }
    received.push(request)
    const answer = reply?.(request) ?? {
      status: 200,
      body: {
        object: "list",
        data: request.body.input
          .map((text, index) => ({ object: "embedding", index, embedding: Array.from(lexicalVector(text, 64), (value) => value * 3) }))
          .reverse(),
        model: request.body.model,
        usage: { prompt_tokens: 4, total_tokens: 4 }
      }
    }
    reply = undefined
    res.writeHead(answer.status, { "content-type": "application/json" })
    res.end(JSON.stringify(answer.body))
  })
})

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`
})

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

const makeEmbedder = (overrides: Partial<ProviderEmbedderOptions> = {}) =>
  makeProviderEmbedder(makeFetchTransport(), {
    baseUrl,
    model: "text-embedding-3-small",
    apiKey: undefined,
    dimensions: undefined,
    timeoutMs: 5_000,
    ...overrides
  })

describe("provider embedder", () => {
  it.live("posts the texts and returns unit vectors in order", () =>
    Effect.gen(function* () {
      const embedder = makeEmbedder({ apiKey: Redacted.make("sk-cache"), dimensions: 64 })

      const vectors = yield* embedder.embed(["first question", "second question"])

      const request = received.at(-1)!
      expect(request.path).toBe("/v1/embeddings")
      expect(request.authorization).toBe("Bearer sk-cache")
      expect(request.body).toEqual({
        model: "text-embedding-3-small",
        input: ["first question", "second question"],
        encoding_format: "float",
        dimensions: 64
      })
      expect(embedder.id).toBe("provider:text-embedding-3-small:64")
      expect(dot(vectors[0]!, lexicalVector("first question", 64))).toBeCloseTo(1, 5)
      expect(dot(vectors[1]!, lexicalVector("second question", 64))).toBeCloseTo(1, 5)
    }))

  it.live("sends no key or dimensions unless set", () =>
    Effect.gen(function* () {
      yield* makeEmbedder().embed(["question"])

      const request = received.at(-1)!
      expect(request.authorization).toBeUndefined()
      expect(request.body.dimensions).toBeUndefined()
    }))

  it.live("reads base64 embeddings", () =>
    Effect.gen(function* () {
      const vector = new Float32Array([3, 4])
      reply = () => ({ status: 200, body: { data: [{ index: 0, embedding: Buffer.from(vector.buffer).toString("base64") }] } })

      const [decoded] = yield* makeEmbedder().embed(["question"])

      expect(Array.from(decoded!)).toEqual([expect.closeTo(0.6, 6), expect.closeTo(0.8, 6)])
    }))

  it.live("fails on an error status without quoting the body", () =>
    Effect.gen(function* () {
      reply = () => ({ status: 429, body: { error: { message: "Rate limit reached for question text" } } })

      const exit = yield* Effect.exit(makeEmbedder().embed(["question text"]))

      expect(exit).toStrictEqual(
        Exit.fail(expect.objectContaining({ reason: "upstream", message: `The embeddings request to ${baseUrl}/embeddings returned HTTP 429.` }))
      )
    }))

  it.live("fails when the API cannot be reached", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(makeEmbedder({ baseUrl: "http://127.0.0.1:9/v1" }).embed(["question"]))

      expect(exit).toStrictEqual(Exit.fail(expect.objectContaining({ embedder: "provider", reason: "upstream" })))
    }))

  const invalid: ReadonlyArray<readonly [string, unknown, number, string]> = [
    ["no data list", { object: "list" }, 1, "no data list"],
    ["too few vectors", { data: [{ index: 0, embedding: [1] }] }, 2, "1 vectors for 2 inputs"],
    ["a repeated index", { data: [{ index: 0, embedding: [1] }, { index: 0, embedding: [1] }] }, 2, "repeats or skips index 0"],
    ["a text embedding", { data: [{ index: 0, embedding: "%%%" }] }, 1, "not a list of numbers or base64 floats"],
    ["vectors of two lengths", { data: [{ index: 0, embedding: [1, 0] }, { index: 1, embedding: [1] }] }, 2, "differ in length"]
  ]
  for (const [name, body, count, message] of invalid) {
    it(`rejects a response with ${name}`, () => {
      const result = readEmbeddingsResponse(body, count)

      expect(result).toMatchObject({ _tag: "EmbeddingError", reason: "invalid-response" })
      expect((result as { message: string }).message).toContain(message)
    })
  }
})
