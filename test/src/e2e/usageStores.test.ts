/**
 * The same short sequence of requests (a JSON reply, a stream and an
 * upstream error) against a gateway that stores usage in SQLite and one that
 * stores it in PostgreSQL. Both stores must return the same records and the
 * same totals.
 */
import type { UsageRecord } from "@fluxen/runtime"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { NO_PLUGINS, requestIdOf, sendRejectedChat, startHarness, waitForRecord, type Harness } from "./harness.js"

type Database = "sqlite" | "postgres"

interface UsageTotalBody {
  readonly group: string
  readonly requests: number
  readonly promptTokens: number
  readonly completionTokens: number
  readonly cachedInputTokens: number
  readonly reasoningTokens: number
  readonly errors: number
  readonly unknownCostRequests: number
}

interface StoreResult {
  readonly records: ReadonlyArray<UsageRecord>
  readonly totals: ReadonlyArray<UsageTotalBody>
}

const question = [{ role: "user" as const, content: "What is the capital of the UK?" }]

const results = new Map<Database, StoreResult>()

/** Drops the fields that differ from run to run: ids and timings. */
const comparable = (record: UsageRecord) => {
  const { requestId: _requestId, createdAt: _createdAt, firstByteMs: _firstByteMs, totalMs: _totalMs, ...rest } = record
  return rest
}

/** Runs the sequence and reads back the records, oldest first, and the totals by model. */
const runSequence = async (harness: Harness): Promise<StoreResult> => {
  const { client, upstream, gateway } = harness
  const ids: Array<string> = []

  upstream.enqueue({ fixture: "openai/chat-completions/text.json" })
  const plain = await client.chat.completions.create({ model: "gpt-4o-mini", messages: question }).withResponse()
  ids.push(requestIdOf(plain.response.headers))

  upstream.enqueue({ fixture: "openai/chat-completions/text-stream-usage.sse" })
  const streamed = await client.chat.completions.create({ model: "gpt-4o-mini", messages: question, stream: true }).withResponse()
  for await (const _chunk of streamed.data) {
    // Reads the stream to its end.
  }
  ids.push(requestIdOf(streamed.response.headers))

  ids.push(await sendRejectedChat(harness, question))

  const records: Array<UsageRecord> = []
  for (const id of ids) records.push(await waitForRecord(gateway, id))

  const response = await fetch(`${gateway.url}/v1/fluxen/usage?group_by=model`)
  expect(response.status).toBe(200)
  const body = (await response.json()) as { object: string; group_by: string; data: Array<UsageTotalBody> }
  expect(body.object).toBe("fluxen.usage")
  expect(body.group_by).toBe("model")
  return { records, totals: body.data }
}

describe.each(["sqlite", "postgres"] as const)("usage in %s", (database) => {
  let harness: Harness
  let result: StoreResult
  const startedAt = Date.now()

  beforeAll(async () => {
    harness = await startHarness({ database, pluginsYaml: NO_PLUGINS })
    result = await runSequence(harness)
    results.set(database, result)
  })

  afterAll(async () => {
    await harness?.close()
  })

  it("stores the JSON reply", () => {
    const record = result.records[0]!
    expect(comparable(record)).toEqual({
      keyId: null,
      team: null,
      requestedModel: "gpt-4o-mini",
      resolvedModel: "gpt-4o-mini-2024-07-18",
      provider: "openai",
      endpoint: "chat",
      status: "ok",
      httpStatus: 200,
      stream: false,
      promptTokens: 16,
      completionTokens: 363,
      cachedInputTokens: 0,
      cacheWriteTokens: 0,
      cacheWrite1hTokens: 0,
      reasoningTokens: 0,
      usageEstimated: false,
      costUsd: null,
      priceVersion: null,
      cacheStatus: null,
      costSavedUsd: null,
      cacheSimilarity: null,
      errorType: null,
      metadata: null
    })
    expect(record.firstByteMs).not.toBeNull()
  })

  it("stores the stream", () => {
    const record = result.records[1]!
    expect(record.stream).toBe(true)
    expect(record.status).toBe("ok")
    expect(record.promptTokens).toBe(78)
    expect(record.completionTokens).toBe(9)
    expect(record.firstByteMs).not.toBeNull()
  })

  it("stores the upstream error", () => {
    const record = result.records[2]!
    expect(record.status).toBe("error")
    expect(record.httpStatus).toBe(400)
    expect(record.errorType).toBe("UpstreamHttpError")
    expect(record.resolvedModel).toBe("gpt-4.1-nano")
    expect(record.promptTokens).toBeNull()
    expect(record.firstByteMs).toBeNull()
  })

  it("stores times as dates and durations as whole milliseconds", () => {
    for (const record of result.records) {
      expect(record.createdAt).toBeInstanceOf(Date)
      expect(record.createdAt.getTime()).toBeGreaterThanOrEqual(startedAt - 1000)
      expect(record.createdAt.getTime()).toBeLessThanOrEqual(Date.now())
      expect(record.totalMs).toBeGreaterThan(0)
      expect(Number.isInteger(record.totalMs)).toBe(true)
      if (record.firstByteMs !== null) expect(record.firstByteMs).toBeLessThanOrEqual(record.totalMs)
    }
  })

  it("reports totals matching the records", () => {
    const byModel = new Map<string, Array<UsageRecord>>()
    for (const record of result.records) {
      const group = record.resolvedModel ?? record.requestedModel
      byModel.set(group, [...(byModel.get(group) ?? []), record])
    }
    const expected = [...byModel.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([group, records]) => ({
        group,
        requests: records.length,
        promptTokens: records.reduce((sum, record) => sum + (record.promptTokens ?? 0), 0),
        completionTokens: records.reduce((sum, record) => sum + (record.completionTokens ?? 0), 0),
        errors: records.filter((record) => record.status === "error").length
      }))

    expect(expected).toEqual([
      { group: "gpt-4.1-nano", requests: 1, promptTokens: 0, completionTokens: 0, errors: 1 },
      { group: "gpt-4o-mini-2024-07-18", requests: 2, promptTokens: 94, completionTokens: 372, errors: 0 }
    ])
    expect(result.totals).toHaveLength(2)
    expect(result.totals).toMatchObject(expected)
    // The failed request is not counted as unpriced, because it produced no usage to price.
    expect(result.totals.map((total) => total.unknownCostRequests)).toEqual([0, 2])
  })
})

describe("SQLite and PostgreSQL", () => {
  it("return the same records field by field", () => {
    const sqlite = results.get("sqlite")
    const postgres = results.get("postgres")
    expect(sqlite).toBeDefined()
    expect(postgres).toBeDefined()
    expect(postgres!.records.map(comparable)).toEqual(sqlite!.records.map(comparable))
  })

  it("return the same totals", () => {
    expect(results.get("postgres")!.totals).toEqual(results.get("sqlite")!.totals)
  })
})
