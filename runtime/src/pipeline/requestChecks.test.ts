/**
 * Compares the hand-written request checks with the schemas they mirror. The
 * rule under test is that when a check accepts a body, the schema decodes it
 * to a deep-equal copy. The bodies come from the tests and the benchmark, from the
 * recorded provider responses, and from a seeded corpus that mutates every
 * field the schemas declare. The corpus reads the field names, literals and
 * numeric bounds from the schemas themselves, so a field added to a schema
 * without a matching check makes these tests fail.
 */
import { describe, expect, it } from "@effect/vitest"
import { ChatRequest, ChatStreamAssembler, EmbeddingsRequest, type ChatCompletionChunk } from "@fluxen/sdk"
import { Either, Option, Schema, SchemaAST } from "effect"
import { readdirSync, readFileSync } from "node:fs"
import { isDeepStrictEqual } from "node:util"
import { workloads } from "../../../test/src/bench/workloads.js"
import { fixturesDir } from "../../../test/src/support/fixtures.js"
import { isKnownValidChatRequest } from "./chatRequestCheck.js"
import { isKnownValidEmbeddingsRequest } from "./embeddingsRequestCheck.js"
import { decodeRequest, decodeWithSchema } from "./parseRequest.js"

// ---------------------------------------------------------------------------
// Comparing a check with its schema
// ---------------------------------------------------------------------------

interface Route {
  readonly name: "chat" | "embeddings"
  readonly schema: Schema.Schema<any, any>
  readonly isKnownValid: (value: unknown) => boolean
}

const chatRoute: Route = { name: "chat", schema: ChatRequest, isKnownValid: isKnownValidChatRequest }
const embeddingsRoute: Route = { name: "embeddings", schema: EmbeddingsRequest, isKnownValid: isKnownValidEmbeddingsRequest }

interface Verdict {
  /** The hand-written check accepted the body. */
  readonly checkAccepts: boolean
  readonly schemaAccepts: boolean
  /** The schema accepted the body and returned a deep-equal copy. */
  readonly unchanged: boolean
}

const judge = (route: Route, body: unknown): Verdict => {
  const decoded = Schema.decodeUnknownEither(route.schema)(body)
  const schemaAccepts = Either.isRight(decoded)
  return {
    checkAccepts: route.isKnownValid(body),
    schemaAccepts,
    unchanged: Either.isRight(decoded) && isDeepStrictEqual(decoded.right, body)
  }
}

/** Returns the first five items and a count of the rest, so that a failure message stays readable. */
const firstFew = (items: ReadonlyArray<string>): Array<string> =>
  items.length <= 5 ? [...items] : [...items.slice(0, 5), `and ${items.length - 5} more`]

/** Lists the bodies that a check accepts although the schema rejects them or changes them. */
const unsafeAcceptances = (route: Route, bodies: Iterable<unknown>): Array<string> => {
  const found: Array<string> = []
  for (const body of bodies) {
    const verdict = judge(route, body)
    if (verdict.checkAccepts && !verdict.unchanged) {
      const decoded = decodeWithSchema(route.schema, body)
      const outcome = Either.isLeft(decoded) ? `the schema rejects it: ${decoded.left.message}` : "the schema changes it"
      found.push(`${outcome}. Body: ${JSON.stringify(body)}`)
    }
  }
  return firstFew(found)
}

/** Lists the bodies that decodeRequest treats differently from a schema-only decode. */
const decodeDifferences = (route: Route, bodies: Iterable<unknown>): Array<string> => {
  const found: Array<string> = []
  for (const body of bodies) {
    const fast = decodeRequest(route.schema, body)
    const plain = decodeWithSchema(route.schema, body)
    const same =
      Either.isRight(fast) && Either.isRight(plain)
        ? isDeepStrictEqual(fast.right, plain.right)
        : Either.isLeft(fast) && Either.isLeft(plain) && fast.left.message === plain.left.message && fast.left.param === plain.left.param
    if (!same) found.push(JSON.stringify(body))
  }
  return firstFew(found)
}

/** Round-trips through JSON text, so that every body is what the pipeline gets from `JSON.parse`. */
const asParsedJson = (value: unknown): unknown => JSON.parse(JSON.stringify(value))

// ---------------------------------------------------------------------------
// Request bodies sent by the end-to-end tests and the benchmark
// ---------------------------------------------------------------------------

const weatherTool = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Current weather of a city",
    parameters: { type: "object", properties: { location: { type: "string" } }, required: ["location"] }
  }
}

const testChatBodies: ReadonlyArray<unknown> = [
  { model: "gpt-4.1-nano", messages: [{ role: "user", content: "Hello" }], max_tokens: 5 },
  {
    model: "gpt-4o-mini",
    messages: [{ role: "user", content: "Name three rivers in Europe." }],
    stream: true,
    stream_options: { include_usage: true }
  },
  {
    model: "claude-sonnet-4",
    messages: [{ role: "system", content: "Be concise." }, { role: "user", content: "Hi" }],
    tools: [weatherTool],
    max_completion_tokens: 300,
    stream: true
  },
  { model: "gpt-5-nano", messages: [{ role: "user", content: "Weather in Boston?" }], tools: [weatherTool], tool_choice: "auto" },
  { model: "gpt-4o-mini", messages: [{ role: "user", content: "Capital?" }], tools: [{ type: "function", function: { name: "get_capital", parameters: { type: "object" } } }], stream: true },
  {
    model: "claude-sonnet-4-5",
    messages: [
      { role: "system", content: "First system." },
      { role: "user", content: "Question one." },
      { role: "assistant", content: "Answer one." },
      { role: "developer", content: "First developer." },
      { role: "system", content: [{ type: "text", text: "Second system." }] }
    ]
  },
  {
    model: "claude-sonnet-4-5",
    reasoning_effort: "low",
    tools: [weatherTool],
    messages: [
      { role: "developer", content: "You may call tools." },
      { role: "user", content: "What is the weather in Paris?" },
      {
        role: "assistant",
        content: "I'll check.",
        reasoning_content: "The user wants the weather.",
        thinking_blocks: [{ type: "thinking", thinking: "The user wants the weather.", signature: "c2lnbmF0dXJl" }],
        tool_calls: [{ id: "toolu_01", type: "function", function: { name: "get_weather", arguments: '{"location":"Paris"}' } }]
      },
      { role: "tool", tool_call_id: "toolu_01", content: '{"temperature":18}' }
    ]
  },
  {
    model: "gemini-3-pro-preview",
    messages: [
      { role: "user", content: "Weather in San Francisco?" },
      {
        role: "assistant",
        content: null,
        tool_calls: [
          {
            id: "call_0",
            type: "function",
            function: { name: "weather", arguments: '{"location":"San Francisco"}' },
            extra_content: { google: { thought_signature: "EqUCCqICAb4" } }
          }
        ]
      },
      { role: "tool", tool_call_id: "call_0", content: "Sunny" }
    ]
  },
  JSON.parse(workloads.plain.requestBody.toString("utf8")),
  JSON.parse(workloads.stream.requestBody.toString("utf8")),
  {
    model: "gpt-4o-mini",
    messages: [
      { role: "user", content: "Hi", name: null, tool_calls: null },
      { role: "assistant", content: "Hello.", name: null, tool_calls: null }
    ],
    tools: [{ type: "function", function: { name: "f", description: null } }],
    tool_choice: null,
    parallel_tool_calls: null,
    response_format: null,
    user: null,
    stream_options: { include_usage: null }
  },
  { model: "gpt-4o-mini", messages: [{ role: "user", content: "Hi" }], tools: null }
]

const testEmbeddingsBodies: ReadonlyArray<unknown> = [
  { model: "text-embedding-3-small", input: ["How do I rotate an API key?"], encoding_format: "float" },
  { model: "text-embedding-3-small", input: "The food was delicious and the waiter...", encoding_format: "float" },
  { model: "text-embedding-3-small", input: "Hi", encoding_format: null, dimensions: null, user: null }
]

describe("request checks on the tests' bodies", () => {
  it("accept every chat body", () => {
    const bodies = testChatBodies.map(asParsedJson)

    expect(bodies.filter((body) => !isKnownValidChatRequest(body))).toEqual([])
    expect(unsafeAcceptances(chatRoute, bodies)).toEqual([])
  })

  it("reject null tool_call_id", () => {
    const body = { model: "m", messages: [{ role: "tool", tool_call_id: null, content: "Sunny" }] }

    expect(isKnownValidChatRequest(body)).toBe(false)
    expect(judge(chatRoute, body).schemaAccepts).toBe(false)
  })

  it("accept every embeddings body", () => {
    const bodies = testEmbeddingsBodies.map(asParsedJson)

    expect(bodies.filter((body) => !isKnownValidEmbeddingsRequest(body))).toEqual([])
    expect(unsafeAcceptances(embeddingsRoute, bodies)).toEqual([])
  })
})

// ---------------------------------------------------------------------------
// Request bodies built from the recorded provider responses
// ---------------------------------------------------------------------------

const fixturePaths: ReadonlyArray<string> = (readdirSync(fixturesDir, { recursive: true }) as Array<string>)
  .map((path) => path.split("\\").join("/"))
  .filter((path) => /\.(json|sse|chunks\.txt)$/.test(path))
  .sort()

/** Reads the JSON payloads of a fixture, which are the whole body or every `data:` payload of a stream. */
const payloadsOf = (path: string): Array<any> => {
  const text = readFileSync(new URL(path, fixturesDir), "utf8")
  if (path.endsWith(".json")) return [JSON.parse(text)]
  const lines = text.split("\n").map((line) => line.replace(/\r$/, ""))
  const payloads = path.endsWith(".chunks.txt")
    ? lines.filter((line) => line !== "")
    : lines.filter((line) => line.startsWith("data:")).map((line) => line.slice(5).trim())
  return payloads.filter((payload) => payload !== "[DONE]").map((payload) => JSON.parse(payload))
}

const isOpenAIChat = (path: string) => path.startsWith("openai/chat-completions/") || path.startsWith("openai-compatible/chat-completions/")

/** Returns the assistant message a chat fixture recorded, as a client would send it back on the next turn. */
const assistantMessageOf = (path: string, payloads: ReadonlyArray<any>): any => {
  if (path.endsWith(".json")) return payloads[0]?.choices?.[0]?.message
  const assembler = new ChatStreamAssembler()
  for (const payload of payloads) if (Array.isArray(payload.choices)) assembler.add(payload as ChatCompletionChunk)
  return assembler.toCompletion().choices[0]?.message
}

/** Builds a follow-up request with the recorded assistant turn and one tool result per tool call. */
const followUpRequest = (assistant: any) => ({
  model: "gpt-4o-mini",
  messages: [
    { role: "user", content: "What is the weather in the UK?" },
    assistant,
    ...(assistant.tool_calls ?? []).map((call: any) => ({ role: "tool", tool_call_id: call.id, content: "Sunny, 18 °C" }))
  ]
})

/** Builds bodies from one fixture that the chat check must accept. */
const acceptedChatBodies = (path: string, payloads: ReadonlyArray<any>): Array<unknown> => {
  const bodies: Array<unknown> = [
    { model: "gpt-4o-mini", messages: [{ role: "user", content: "Hi" }], metadata: { recorded: payloads } }
  ]
  if (isOpenAIChat(path) && !path.includes("/error-")) bodies.push(followUpRequest(assistantMessageOf(path, payloads)))
  if (path.startsWith("anthropic/messages/")) {
    const blocks = payloads.flatMap((payload) => payload.content ?? (payload.content_block ? [payload.content_block] : []))
    if (blocks.length > 0) {
      bodies.push({ model: "claude-sonnet-4-5", messages: [{ role: "user", content: "Hi" }, { role: "assistant", content: blocks }] })
    }
  }
  return bodies
}

/**
 * Builds bodies from recorded deltas and Gemini parts used as request fields.
 * The chat check need not accept them, only agree with the schema.
 */
const otherChatBodies = (path: string, payloads: ReadonlyArray<any>): Array<unknown> => {
  const bodies: Array<unknown> = []
  for (const payload of payloads) {
    for (const choice of payload.choices ?? []) {
      const delta = choice.delta
      if (delta === undefined) continue
      bodies.push({ model: "m", messages: [delta] })
      if (delta.tool_calls !== undefined) bodies.push({ model: "m", messages: [{ role: "assistant", tool_calls: delta.tool_calls }] })
    }
    for (const candidate of payload.candidates ?? []) {
      bodies.push({ model: "m", messages: [{ role: "assistant", content: candidate.content?.parts }] })
    }
  }
  if (path.startsWith("gemini/")) bodies.push({ model: "m", messages: [{ role: "user", content: payloads }] })
  return bodies
}

/** Builds bodies from one fixture that the embeddings check must accept, with the recorded vectors as input where there are some. */
const acceptedEmbeddingsBodies = (path: string, payloads: ReadonlyArray<any>): Array<unknown> => {
  const bodies: Array<unknown> = [{ model: "text-embedding-3-small", input: "Hi", metadata: payloads }]
  if (!path.startsWith("openai/embeddings/")) return bodies
  const vectors: Array<unknown> = payloads[0].data.map((item: { embedding: unknown }) => item.embedding)
  const first = vectors[0]
  bodies.push({ model: "text-embedding-3-small", input: first, encoding_format: "float" })
  bodies.push({ model: "text-embedding-3-small", input: vectors, dimensions: Array.isArray(first) ? first.length : 1536 })
  return bodies
}

describe("request checks on bodies from the recorded responses", () => {
  it("find the fixture files", () => {
    expect(fixturePaths.length).toBeGreaterThan(20)
    expect(fixturePaths).toContain("openai/chat-completions/tool-call.json")
  })

  it.each(fixturePaths)("agree with the chat schema on %s", (path) => {
    const payloads = payloadsOf(path)
    const accepted = acceptedChatBodies(path, payloads).map(asParsedJson)
    const others = otherChatBodies(path, payloads).map(asParsedJson)

    expect(accepted.filter((body) => !isKnownValidChatRequest(body))).toEqual([])
    expect(unsafeAcceptances(chatRoute, [...accepted, ...others])).toEqual([])
    expect(decodeDifferences(chatRoute, [...accepted, ...others])).toEqual([])
  })

  it.each(fixturePaths)("agree with the embeddings schema on %s", (path) => {
    const accepted = acceptedEmbeddingsBodies(path, payloadsOf(path)).map(asParsedJson)

    expect(accepted.filter((body) => !isKnownValidEmbeddingsRequest(body))).toEqual([])
    expect(unsafeAcceptances(embeddingsRoute, accepted)).toEqual([])
  })

  it.each([
    "openai/chat-completions/tool-call.json",
    "openai/chat-completions/tool-call-stream-usage.sse",
    "openai-compatible/chat-completions/groq-tool-call-stream.chunks.txt",
    "openai-compatible/chat-completions/mistral-tool-call-stream.chunks.txt"
  ])("accept the tool calls recorded in %s", (path) => {
    const assistant = assistantMessageOf(path, payloadsOf(path))
    const body = asParsedJson(followUpRequest(assistant))

    expect(assistant.tool_calls.length).toBeGreaterThan(0)
    expect(isKnownValidChatRequest(body)).toBe(true)
  })

  it("reject untyped Gemini parts", () => {
    const payloads = payloadsOf("gemini/generate-content/vertex-text.json")
    const body = asParsedJson({ model: "m", messages: [{ role: "assistant", content: payloads[0].candidates[0].content.parts }] })

    expect(isKnownValidChatRequest(body)).toBe(false)
    expect(judge(chatRoute, body).schemaAccepts).toBe(false)
  })
})

// ---------------------------------------------------------------------------
// What the schemas declare: field names by position, literals and bounds
// ---------------------------------------------------------------------------

type Path = ReadonlyArray<string | number>

/** An object position in a body and the field names the schema declares there. */
interface StructPosition {
  readonly path: Path
  readonly names: ReadonlyArray<string>
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** Walks `value` along `ast` and lists each object that a struct of the schema describes. */
const structPositions = (ast: SchemaAST.AST, value: unknown, path: Path, found: Array<StructPosition>): void => {
  switch (ast._tag) {
    case "Refinement":
      return structPositions(ast.from, value, path, found)
    case "Union":
      for (const member of ast.types) structPositions(member, value, path, found)
      return
    case "TupleType":
      if (!Array.isArray(value)) return
      value.forEach((item, index) => {
        const element = ast.elements[index]?.type ?? ast.rest[0]?.type
        if (element !== undefined) structPositions(element, item, [...path, index], found)
      })
      return
    case "TypeLiteral":
      if (!isObject(value)) return
      found.push({ path, names: ast.propertySignatures.map((signature) => String(signature.name)) })
      for (const signature of ast.propertySignatures) {
        const name = String(signature.name)
        if (Object.hasOwn(value, name)) structPositions(signature.type, value[name], [...path, name], found)
      }
      return
    default:
      return
  }
}

/** Collects the string literals and the numeric bounds of every filter in `ast`. */
const schemaConstants = (ast: SchemaAST.AST, strings: Set<string>, numbers: Set<number>): void => {
  switch (ast._tag) {
    case "Literal":
      if (typeof ast.literal === "string") strings.add(ast.literal)
      return
    case "Refinement": {
      const jsonSchema = Option.getOrUndefined(SchemaAST.getJSONSchemaAnnotation(ast)) as Record<string, unknown> | undefined
      for (const bound of Object.values(jsonSchema ?? {})) if (typeof bound === "number") numbers.add(bound)
      return schemaConstants(ast.from, strings, numbers)
    }
    case "Union":
      for (const member of ast.types) schemaConstants(member, strings, numbers)
      return
    case "TupleType":
      for (const element of ast.elements) schemaConstants(element.type, strings, numbers)
      for (const rest of ast.rest) schemaConstants(rest.type, strings, numbers)
      return
    case "TypeLiteral":
      for (const signature of ast.propertySignatures) schemaConstants(signature.type, strings, numbers)
      for (const index of ast.indexSignatures) schemaConstants(index.type, strings, numbers)
      return
    default:
      return
  }
}

/**
 * Replacement values for any field: a value of every JSON type, the schema's
 * string literals plus a few more words, and numbers on both sides of every bound.
 */
const replacementValues = (schema: Schema.Schema<any, any>): ReadonlyArray<unknown> => {
  const strings = new Set(["", "x", "robot", "any", "int8", "function", "text", "auto", "float", "base64", "system", "user"])
  const bounds = new Set<number>()
  schemaConstants(schema.ast, strings, bounds)

  const numbers = new Set([0, 1, -1, 0.5, 1.5, 2.5, -2.5, 3, 64, 127, 128, 129, 256, 2 ** 31, 2 ** 53 - 1, 2 ** 53, -(2 ** 53), 1e300])
  for (const bound of bounds) for (const delta of [-1, -0.5, -0.001, 0, 0.001, 0.5, 1]) numbers.add(bound + delta)

  return [
    null,
    true,
    false,
    ...numbers,
    ...strings,
    [],
    [""],
    ["x", "y"],
    [1, 2.5],
    [[1, 2], []],
    [[]],
    ["x", 1],
    [[1], 2],
    [null],
    [{ type: "text", text: "hi" }],
    [{ text: "hi" }],
    [{ role: "user", content: "hi" }],
    [{ id: "call_1", type: "function", function: { name: "f", arguments: "{}" } }],
    [{ id: "call_1", function: { name: "f", arguments: "{}" }, index: 0 }],
    [{ id: "call_1", function: { name: "f" } }],
    [{ type: "function", function: { name: "f", parameters: { type: "object" }, strict: null } }],
    [{ type: "function" }],
    {},
    { type: "text" },
    { type: 1 },
    { type: null },
    { name: "f", arguments: "{}" },
    { name: "f", description: 1 },
    { name: "f", strict: "yes" },
    { include_usage: true },
    { include_usage: "yes" },
    { type: "json_schema", json_schema: { name: "s" } }
  ]
}

// ---------------------------------------------------------------------------
// Generating mutated bodies
// ---------------------------------------------------------------------------

/** Returns a mulberry32 generator, a small seeded PRNG, so that every run tests the same corpus. */
const seededRandom = (seed: number) => {
  let state = seed >>> 0
  return (): number => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const clone = <A>(value: A): A => JSON.parse(JSON.stringify(value))

const valueAt = (root: unknown, path: Path): any => path.reduce<any>((node, key) => node?.[key], root)

/** Sets an own property even for the key `__proto__`, which plain assignment would treat as the prototype. */
const setOwn = (target: any, key: string | number, value: unknown): void => {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true })
}

const replaced = (body: unknown, path: Path, value: unknown): unknown => {
  if (path.length === 0) return clone(value)
  const copy = clone(body)
  setOwn(valueAt(copy, path.slice(0, -1)), path[path.length - 1]!, clone(value))
  return copy
}

const removed = (body: unknown, path: Path): unknown => {
  const copy = clone(body)
  const parent = valueAt(copy, path.slice(0, -1))
  const key = path[path.length - 1]!
  if (Array.isArray(parent)) parent.splice(key as number, 1)
  else delete parent[key]
  return copy
}

/** Lists every position in a body, the root first. */
const allPaths = (value: unknown, path: Path = []): Array<Path> => {
  const children = Array.isArray(value)
    ? value.flatMap((item, index) => allPaths(item, [...path, index]))
    : isObject(value)
      ? Object.keys(value).flatMap((key) => allPaths(value[key], [...path, key]))
      : []
  return [path, ...children]
}

const extraFields: ReadonlyArray<readonly [string, unknown]> = [
  ["x_extra", { nested: [1, "two", { three: null }] }],
  ["__proto__", { polluted: true }],
  ["__proto__", "text"],
  ["__proto__", null]
]

/**
 * Generates every body one change away from `base`: each position replaced by each value
 * or removed, each declared field set to each value, unknown and `__proto__`
 * keys added to each object, and each array emptied or extended.
 */
function* singleMutations(schema: Schema.Schema<any, any>, base: unknown, values: ReadonlyArray<unknown>): Generator<unknown> {
  const paths = allPaths(base)
  for (const path of paths) {
    for (const value of values) yield replaced(base, path, value)
    if (path.length > 0) yield removed(base, path)
  }

  const positions: Array<StructPosition> = []
  structPositions(schema.ast, base, [], positions)
  for (const { path, names } of positions) {
    for (const name of names) {
      for (const value of values) yield replaced(base, [...path, name], value)
    }
  }

  for (const path of paths) {
    const node = valueAt(base, path)
    if (isObject(node)) {
      for (const [key, value] of extraFields) yield replaced(base, [...path, key], value)
    }
    if (Array.isArray(node)) {
      yield replaced(base, path, [])
      for (const value of values) yield replaced(base, [...path, node.length], value)
    }
  }
}

/** Builds a body with two to four random changes from one of `bases`, drawn with `random`. */
const multipleMutation = (
  schema: Schema.Schema<any, any>,
  bases: ReadonlyArray<unknown>,
  values: ReadonlyArray<unknown>,
  random: () => number
): unknown => {
  const pick = <A>(items: ReadonlyArray<A>): A => items[Math.floor(random() * items.length)]!
  let body = pick(bases)
  const changes = 2 + Math.floor(random() * 3)
  for (let change = 0; change < changes; change++) {
    const positions: Array<StructPosition> = []
    structPositions(schema.ast, body, [], positions)
    const kind = random()
    if (kind < 0.4 && positions.length > 0) {
      const position = pick(positions)
      body = replaced(body, [...position.path, pick(position.names)], pick(values))
    } else if (kind < 0.7) {
      body = replaced(body, pick(allPaths(body)), pick(values))
    } else if (kind < 0.85) {
      const paths = allPaths(body).filter((path) => path.length > 0)
      if (paths.length > 0) body = removed(body, pick(paths))
    } else {
      const objects = allPaths(body).filter((path) => isObject(valueAt(body, path)))
      const [key, value] = pick(extraFields)
      if (objects.length > 0) body = replaced(body, [...pick(objects), key], value)
    }
  }
  return body
}

/** Deduplicates by JSON text and re-parses, as the pipeline would receive each body. */
const uniqueParsed = (bodies: Iterable<unknown>): Array<unknown> => {
  const texts = new Set<string>()
  for (const body of bodies) texts.add(JSON.stringify(body))
  return [...texts].map((text) => JSON.parse(text))
}

// ---------------------------------------------------------------------------
// The generated corpus
// ---------------------------------------------------------------------------

const chatBases: ReadonlyArray<unknown> = [
  {
    model: "gpt-4o-mini",
    messages: [
      { role: "system", content: "Answer briefly.", name: "policy" },
      { role: "user", content: [{ type: "text", text: "Weather?" }, { type: "image_url", image_url: { url: "https://example.com/a.png" } }] },
      {
        role: "assistant",
        content: null,
        tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }]
      },
      { role: "tool", tool_call_id: "call_1", content: "Sunny" }
    ],
    stream: true,
    stream_options: { include_usage: true },
    max_tokens: 100,
    max_completion_tokens: 200,
    temperature: 0.7,
    top_p: 1,
    n: 1,
    stop: ["END"],
    seed: 42,
    presence_penalty: 0.5,
    frequency_penalty: -0.5,
    tools: [
      {
        type: "function",
        function: { name: "get_weather", description: "Weather of a city", parameters: { type: "object" }, strict: true }
      }
    ],
    tool_choice: { type: "function", function: { name: "get_weather" } },
    parallel_tool_calls: false,
    response_format: { type: "text" },
    reasoning_effort: "low",
    user: "user-1",
    metadata: { team: "search" }
  },
  {
    model: "gpt-4o-mini",
    messages: [{ role: "developer", content: "Be kind." }, { role: "user", content: "Hi" }],
    stream: null,
    stream_options: null,
    max_tokens: null,
    temperature: null,
    stop: "\n",
    tool_choice: "required",
    tools: [{ type: "function" }]
  },
  { model: "m", messages: [{ role: "function", name: "legacy", content: "42" }] },
  JSON.parse(workloads.stream.requestBody.toString("utf8"))
]

const embeddingsBases: ReadonlyArray<unknown> = [
  { model: "text-embedding-3-small", input: ["first", "second"], encoding_format: "float", dimensions: 256, user: "user-1" },
  { model: "text-embedding-3-small", input: "one text" },
  { model: "text-embedding-3-small", input: [0.25, -1, 3], encoding_format: "base64" },
  { model: "text-embedding-3-small", input: [[1, 2, 3], [], [4]] }
]

const corpusOf = (route: Route, bases: ReadonlyArray<unknown>, seed: number): Array<unknown> => {
  const values = replacementValues(route.schema)
  const bodies: Array<unknown> = []
  for (const base of bases) bodies.push(base, ...singleMutations(route.schema, base, values))
  const random = seededRandom(seed)
  for (let i = 0; i < 3_000; i++) bodies.push(multipleMutation(route.schema, bases, values, random))
  return uniqueParsed(bodies)
}

describe.each([
  { route: chatRoute, bases: chatBases, seed: 20_260_101 },
  { route: embeddingsRoute, bases: embeddingsBases, seed: 20_260_102 }
])("$route.name check on a generated corpus", ({ route, bases, seed }) => {
  const corpus = corpusOf(route, bases, seed)
  const verdicts = corpus.map((body) => judge(route, body))

  it("covers thousands of bodies", () => {
    expect(corpus.length).toBeGreaterThan(route === chatRoute ? 10_000 : 2_000)
  })

  it("accepts every base body", () => {
    const parsed = bases.map(asParsedJson)

    expect(parsed.filter((body) => !route.isKnownValid(body))).toEqual([])
  })

  it("accepts only bodies decoded unchanged", () => {
    expect(unsafeAcceptances(route, corpus)).toEqual([])
  })

  it("accepts every body decoded unchanged", () => {
    const missed = corpus.filter((_, index) => verdicts[index]!.unchanged && !verdicts[index]!.checkAccepts)

    expect(firstFew(missed.map((body) => JSON.stringify(body)))).toEqual([])
  })

  it("mixes accepted and rejected bodies", () => {
    const accepted = verdicts.filter((verdict) => verdict.checkAccepts).length
    const rejected = verdicts.filter((verdict) => !verdict.schemaAccepts).length

    expect(accepted).toBeGreaterThan(corpus.length / 20)
    expect(rejected).toBeGreaterThan(corpus.length / 20)
  })

  it("accepts some value per declared field", () => {
    const base = asParsedJson(bases[0])
    const values = replacementValues(route.schema)
    const positions: Array<StructPosition> = []
    structPositions(route.schema.ast, base, [], positions)

    const neverAccepted = positions.flatMap(({ path, names }) =>
      names
        .map((name) => [...path, name])
        .filter((fieldPath) => !values.some((value) => route.isKnownValid(replaced(base, fieldPath, value))))
        .map((fieldPath) => fieldPath.join("."))
    )

    expect(positions.length).toBeGreaterThan(route === chatRoute ? 10 : 0)
    expect(neverAccepted).toEqual([])
  })

  it("rejects some value per top-level field", () => {
    const base = asParsedJson(bases[0])
    const values = replacementValues(route.schema)
    const names = (route.schema.ast as SchemaAST.TypeLiteral).propertySignatures.map((signature) => String(signature.name))

    const neverRejected = names.filter((name) =>
      values.every((value) => {
        const body = replaced(base, [name], value)
        return route.isKnownValid(body) || judge(route, body).schemaAccepts
      })
    )

    expect(names.length).toBeGreaterThan(4)
    expect(neverRejected).toEqual([])
  })

  // decodeRequest hands every body its check rejects to the schema decoder, so
  // a sample of those is enough next to all the accepted ones.
  it("decodeRequest matches schema-only decode", () => {
    const sample = corpus.filter((_, index) => verdicts[index]!.checkAccepts || index % 20 === 0)

    expect(decodeDifferences(route, sample)).toEqual([])
  })
})
