/**
 * The groups, filters and status counts of `GET /v1/fluxen/usage` after a
 * JSON reply, a stream that the client cancels and an upstream error, on a
 * gateway that stores usage in SQLite and on one that stores it in
 * PostgreSQL. Both stores must return the same totals.
 */
import OpenAI from "openai"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { requestIdOf, sendRejectedChat, startHarness, waitForRecord, type Harness } from "./harness.js"

type Database = "sqlite" | "postgres"

interface UsageTotalBody {
  readonly group: string
  readonly requests: number
  readonly completionTokens: number
  readonly errors: number
  readonly cancelled: number
  readonly estimatedUsageRequests: number
}

const question = [{ role: "user" as const, content: "What is the capital of the UK?" }]

/** Queries whose totals the tests compare, each sent to both gateways. */
const queries = {
  byStatus: "group_by=status",
  byEndpoint: "group_by=endpoint",
  byRequestedModel: "group_by=requested_model",
  byResolvedModel: "group_by=resolved_model",
  oneModelByStatus: "group_by=status&model=gpt-4o-mini-2024-07-18",
  aliasAsModel: "group_by=status&model=gpt-4o-mini",
  requestedByResolved: "group_by=resolved_model&requested_model=gpt-4o-mini",
  teamNone: "group_by=team&team=(none)",
  unknownKey: "group_by=key&key_id=key_nobody"
} as const

type Totals = Record<keyof typeof queries, ReadonlyArray<UsageTotalBody>>

const results = new Map<Database, Totals>()

/** Streams a reply and leaves after the first text, as a client that closes the tab does. */
const cancelStream = async (harness: Harness): Promise<string> => {
  harness.upstream.enqueue({ fixture: "openai/chat-completions/text-stream-no-usage.sse", writes: "per-event", delayMs: 20 })
  const controller = new AbortController()
  const { data: stream, response } = await harness.client.chat.completions
    .create({ model: "gpt-4o-mini", messages: question, stream: true }, { signal: controller.signal })
    .withResponse()
  try {
    for await (const chunk of stream) {
      if ((chunk.choices[0]?.delta.content ?? "") !== "") controller.abort()
    }
  } catch (error) {
    if (!(error instanceof OpenAI.APIUserAbortError)) throw error
  }
  return requestIdOf(response.headers)
}

/** Sends the three requests, waits for their records and reads the totals of every query. */
const runSequence = async (harness: Harness): Promise<Totals> => {
  const { client, upstream, gateway } = harness
  const ids: Array<string> = []

  upstream.enqueue({ fixture: "openai/chat-completions/text.json" })
  const plain = await client.chat.completions.create({ model: "gpt-4o-mini", messages: question }).withResponse()
  ids.push(requestIdOf(plain.response.headers))

  ids.push(await cancelStream(harness))

  ids.push(await sendRejectedChat(harness, question))

  for (const id of ids) await waitForRecord(gateway, id)

  const totals: Partial<Totals> = {}
  for (const [name, query] of Object.entries(queries) as Array<[keyof typeof queries, string]>) {
    const response = await fetch(`${gateway.url}/v1/fluxen/usage?${query}`)
    expect(response.status, query).toBe(200)
    totals[name] = ((await response.json()) as { data: ReadonlyArray<UsageTotalBody> }).data
  }
  return totals as Totals
}

const groupsOf = (totals: ReadonlyArray<UsageTotalBody>) => totals.map((total) => [total.group, total.requests])

describe.each(["sqlite", "postgres"] as const)("usage totals options in %s", (database) => {
  let harness: Harness
  let totals: Totals

  beforeAll(async () => {
    // The default plugins include the analyzer, which estimates the usage of the cancelled stream.
    harness = await startHarness({ database })
    totals = await runSequence(harness)
    results.set(database, totals)
  })

  afterAll(async () => {
    await harness?.close()
  })

  it("groups by status", () => {
    expect(groupsOf(totals.byStatus)).toEqual([
      ["cancelled", 1],
      ["error", 1],
      ["ok", 1]
    ])
  })

  it("counts the cancelled stream", () => {
    const cancelled = totals.byStatus[0]!

    expect(cancelled.cancelled).toBe(1)
    expect(cancelled.errors).toBe(0)
    expect(cancelled.estimatedUsageRequests).toBe(1)
    expect(cancelled.completionTokens).toBeGreaterThan(0)
  })

  it("counts the error apart", () => {
    const failed = totals.byStatus[1]!

    expect(failed.errors).toBe(1)
    expect(failed.cancelled).toBe(0)
  })

  it("groups by endpoint", () => {
    expect(groupsOf(totals.byEndpoint)).toEqual([["chat", 3]])
  })

  it("groups by requested model", () => {
    expect(groupsOf(totals.byRequestedModel)).toEqual([
      ["gpt-4.1-nano", 1],
      ["gpt-4o-mini", 2]
    ])
  })

  it("groups by resolved model", () => {
    expect(groupsOf(totals.byResolvedModel)).toEqual([
      ["gpt-4.1-nano", 1],
      ["gpt-4o-mini-2024-07-18", 2]
    ])
  })

  it("filters by model", () => {
    expect(groupsOf(totals.oneModelByStatus)).toEqual([
      ["cancelled", 1],
      ["ok", 1]
    ])
  })

  it("filters by requested model", () => {
    expect(groupsOf(totals.requestedByResolved)).toEqual([["gpt-4o-mini-2024-07-18", 2]])
  })

  it("model filter ignores the alias", () => {
    // The client named gpt-4o-mini, but the model filter compares the upstream model.
    expect(totals.aliasAsModel).toEqual([])
  })

  it("filters by team (none)", () => {
    expect(groupsOf(totals.teamNone)).toEqual([["(none)", 3]])
  })

  it("filters by an unknown key id", () => {
    expect(totals.unknownKey).toEqual([])
  })
})

describe("SQLite and PostgreSQL totals options", () => {
  it.each(Object.keys(queries) as Array<keyof typeof queries>)("return the same %s", (name) => {
    // The tokens and cost of the cancelled stream depend on how much text the client read before it aborted,
    // which varies from run to run, so only the request counts are compared.
    const counts = (database: Database) =>
      results.get(database)![name].map(({ group, requests, errors, cancelled, estimatedUsageRequests }) => ({
        group,
        requests,
        errors,
        cancelled,
        estimatedUsageRequests
      }))

    expect(counts("postgres")).toEqual(counts("sqlite"))
  })
})
