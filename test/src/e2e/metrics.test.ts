/**
 * `GET /metrics` after real traffic: a JSON reply, a stream, an upstream
 * error, a cache hit and a request for an unknown model go through a test
 * gateway, and the scraped counters must equal the sums of the usage records,
 * with the unknown model counted as `(unknown)`.
 * Two test plugins make hooks fault and time out, so the per-plugin hook
 * counters have known non-zero values.
 */
import type { UsageRecord } from "@fluxen/runtime"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { postJson, requestIdOf, startHarness, type Harness } from "./harness.js"

const TEXT = "openai/chat-completions/text.json"
const TEXT_STREAM = "openai/chat-completions/text-stream-usage.sse"

/** A model missing from the configuration, whose quotes, backslash and line feed would need escaping in a label. */
const ODD_MODEL = 'no "such" \\model\nhere'
/** The upstream model of the `odd-upstream` alias, with the same three characters. */
const ODD_UPSTREAM_MODEL = 'up"stream\\model\nname'

// The test gateway imports plugins by file path; tsc compiles this module next to the others in test/dist.
const hookFaultPluginPath = fileURLToPath(new URL("../../dist/browser/hookFaultPlugin.js", import.meta.url))

/** Hook timeout of the `sleeps` plugin, in milliseconds. */
const SLEEP_TIMEOUT_MS = 100

/**
 * How long the `sleeps` plugin's afterResponse hook sleeps, in milliseconds.
 * NOTE: afterResponse runs in the request's exit handler, where the host
 * cannot interrupt the hook, so each request's usage record waits the full
 * sleep although the hook counts as timed out. Keep it short.
 */
const SLEEP_MS = 300

const pluginsYaml = `plugins:
  - use: "@fluxen/analyzer"
  - use: "@fluxen/cache"
  - use: ${JSON.stringify(hookFaultPluginPath)}
    name: dies
    config:
      afterResponse: die
  - use: ${JSON.stringify(hookFaultPluginPath)}
    name: sleeps
    timeout: ${SLEEP_TIMEOUT_MS}
    config:
      afterResponse: sleep
      sleepMs: ${SLEEP_MS}
`

const modelsYaml = `  odd-upstream:
    provider: openai
    model: ${JSON.stringify(ODD_UPSTREAM_MODEL)}
`

// ============================================================================
// A parser for the text format, independent of the gateway's writer
// ============================================================================

interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

interface Scrape {
  readonly text: string
  readonly samples: ReadonlyArray<Sample>
  /** `# TYPE` per metric family. */
  readonly types: ReadonlyMap<string, string>
  readonly helps: ReadonlySet<string>
}

const parseLabels = (text: string): Record<string, string> => {
  const labels: Record<string, string> = {}
  let index = 0
  while (index < text.length) {
    const equals = text.indexOf("=", index)
    const name = text.slice(index, equals)
    if (text[equals + 1] !== '"') throw new Error(`Label ${name} has no opening quote in {${text}}`)
    let value = ""
    let position = equals + 2
    while (text[position] !== '"') {
      if (position >= text.length) throw new Error(`Label ${name} has no closing quote in {${text}}`)
      if (text[position] === "\\") {
        const escaped = text[position + 1]
        if (escaped === "n") value += "\n"
        else if (escaped === "\\" || escaped === '"') value += escaped
        else throw new Error(`Invalid escape \\${escaped} in label ${name}`)
        position += 2
      } else {
        value += text[position]
        position += 1
      }
    }
    labels[name] = value
    index = position + 1
    if (text[index] === ",") index += 1
  }
  return labels
}

const parseValue = (text: string): number => {
  if (text === "+Inf") return Number.POSITIVE_INFINITY
  if (text === "-Inf") return Number.NEGATIVE_INFINITY
  if (text === "NaN") return Number.NaN
  const value = Number(text)
  if (Number.isNaN(value)) throw new Error(`Invalid sample value ${text}`)
  return value
}

const parseExposition = (text: string): Scrape => {
  const samples: Array<Sample> = []
  const types = new Map<string, string>()
  const helps = new Set<string>()
  for (const line of text.split("\n")) {
    if (line === "") continue
    if (line.startsWith("# HELP ")) {
      helps.add(line.split(" ")[2]!)
      continue
    }
    if (line.startsWith("# TYPE ")) {
      const [, , name, type] = line.split(" ")
      types.set(name!, type!)
      continue
    }
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (match === null) throw new Error(`Invalid exposition line: ${JSON.stringify(line)}`)
    samples.push({ name: match[1]!, labels: parseLabels(match[2] ?? ""), value: parseValue(match[3]!) })
  }
  return { text, samples, types, helps }
}

/** Finds the one sample with the name and exactly these labels, failing when there is none. */
const valueOf = (scrape: Scrape, name: string, labels: Readonly<Record<string, string>> = {}): number => {
  const expected = JSON.stringify(Object.entries(labels).sort())
  const found = scrape.samples.filter((sample) => sample.name === name && JSON.stringify(Object.entries(sample.labels).sort()) === expected)
  if (found.length !== 1) throw new Error(`Expected one sample ${name}${JSON.stringify(labels)}, found ${found.length}`)
  return found[0]!.value
}

/** Checks whether the scrape has a sample with exactly these labels. */
const hasSample = (scrape: Scrape, name: string, labels: Readonly<Record<string, string>>): boolean => {
  const expected = JSON.stringify(Object.entries(labels).sort())
  return scrape.samples.some((sample) => sample.name === name && JSON.stringify(Object.entries(sample.labels).sort()) === expected)
}

/** Returns the family of a sample, whose name has a `_bucket`, `_sum` or `_count` suffix when it is a histogram's. */
const familyOf = (scrape: Scrape, sampleName: string): string | undefined => {
  if (scrape.types.has(sampleName)) return sampleName
  const base = sampleName.replace(/_(bucket|sum|count)$/, "")
  return scrape.types.get(base) === "histogram" ? base : undefined
}

// ============================================================================
// Expected values from the usage records
// ============================================================================

// Every request of this test that failed before routing named a model missing from the configuration.
const modelOf = (record: UsageRecord): string => record.resolvedModel ?? (record.requestedModel === "" ? "(none)" : "(unknown)")
const providerOf = (record: UsageRecord): string => record.provider ?? "(none)"

/** Groups records by the values `key` returns, joined into one string key. */
const groupBy = (records: ReadonlyArray<UsageRecord>, key: (record: UsageRecord) => ReadonlyArray<string>) => {
  const groups = new Map<string, { readonly labels: ReadonlyArray<string>; readonly records: Array<UsageRecord> }>()
  for (const record of records) {
    const labels = key(record)
    const id = JSON.stringify(labels)
    const group = groups.get(id) ?? { labels, records: [] }
    group.records.push(record)
    groups.set(id, group)
  }
  return [...groups.values()]
}

const sum = (records: ReadonlyArray<UsageRecord>, value: (record: UsageRecord) => number | null): number =>
  records.reduce((total, record) => total + (value(record) ?? 0), 0)

/**
 * The usage table stores latencies in whole milliseconds, while the gateway
 * observes them unrounded, so each observation may differ by half a millisecond
 * (the comparisons add 1e-9 for floating-point error in the sums).
 */
const roundingSeconds = 0.0005

const isCacheHit = (record: UsageRecord): boolean => record.cacheStatus === "hit" || record.cacheStatus === "semantic-hit"

/** The `cache` label of a record's request and token samples. */
const cacheLabelOf = (record: UsageRecord): string => (isCacheHit(record) ? "hit" : "none")

// ============================================================================
// Traffic
// ============================================================================

let harness: Harness
let records: ReadonlyArray<UsageRecord>
let scrape: Scrape
let metricsResponse: Response

const question = (text: string) => [{ role: "user" as const, content: text }]

/** Waits until `count` usage records exist. A record is written after every hook of its request has finished. */
const waitForRecordCount = async (count: number, timeoutMs = 10_000): Promise<ReadonlyArray<UsageRecord>> => {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const written = await harness.gateway.usageRecords()
    if (written.length >= count) return written
    if (performance.now() > deadline) throw new Error(`Expected ${count} usage records within ${timeoutMs} ms, found ${written.length}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

beforeAll(async () => {
  harness = await startHarness({ pluginsYaml, modelsYaml })
  const { client, upstream } = harness

  // A JSON reply, which the cache stores.
  upstream.enqueue({ fixture: TEXT })
  await client.chat.completions.create({ model: "gpt-4o-mini", messages: question("Invent a holiday.") })

  // The cache stores the reply in its afterResponse hook, which runs after the client has it.
  await waitForRecordCount(1)

  // The same request again, served from the cache with no upstream call.
  await client.chat.completions.create({ model: "gpt-4o-mini", messages: question("Invent a holiday.") })

  // A stream with usage.
  upstream.enqueue({ fixture: TEXT_STREAM })
  const stream = await client.chat.completions.create({ model: "gpt-4o-mini", messages: question("Count to three."), stream: true })
  for await (const chunk of stream) void chunk

  // An upstream error.
  upstream.enqueue({
    status: 500,
    body: JSON.stringify({ error: { message: "The server had an error", type: "server_error", param: null, code: null } })
  })
  const failed = await postJson(harness.gateway, "/v1/chat/completions", { model: "gpt-4o-mini", messages: question("Fail, please.") })
  expect(failed.status).toBe(500)
  await failed.text()

  // A model missing from the configuration, which fails before routing.
  const unknown = await postJson(harness.gateway, "/v1/chat/completions", { model: ODD_MODEL, messages: question("Hello") })
  expect(unknown.status).toBe(404)
  requestIdOf(unknown.headers)
  await unknown.text()

  // A JSON reply from an upstream model whose name needs escaping.
  upstream.enqueue({ fixture: TEXT })
  await client.chat.completions.create({ model: "odd-upstream", messages: question("Say something odd.") })

  records = await waitForRecordCount(6)
  metricsResponse = await fetch(`${harness.gateway.url}/metrics`)
  scrape = parseExposition(await metricsResponse.text())
})

afterAll(async () => {
  await harness?.close()
})

// ============================================================================
// Checks
// ============================================================================

describe("GET /metrics", () => {
  it("uses the Prometheus text content type", () => {
    expect(metricsResponse.status).toBe(200)
    expect(metricsResponse.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8")
    expect(scrape.text.endsWith("\n")).toBe(true)
  })

  it("declares a type and help for every sample", () => {
    for (const sample of scrape.samples) {
      const family = familyOf(scrape, sample.name)
      expect(family, `family of ${sample.name}`).toBeDefined()
      expect(scrape.helps.has(family!), `# HELP of ${family}`).toBe(true)
    }
  })

  it("labels the unknown model as (unknown)", () => {
    expect(valueOf(scrape, "fluxen_requests_total", { provider: "(none)", model: "(unknown)", endpoint: "chat", status: "error", cache: "none" })).toBe(1)
    expect(scrape.text).not.toContain("such")
  })

  it("covers the six kinds of traffic", () => {
    expect(records).toHaveLength(6)
    expect(records.filter(isCacheHit)).toHaveLength(1)
    expect(records.filter((record) => record.stream)).toHaveLength(1)
    expect(records.filter((record) => record.errorType === "UpstreamHttpError")).toHaveLength(1)
    expect(records.filter((record) => record.errorType === "ModelNotFoundError")).toHaveLength(1)
  })

  it("counts requests per provider, model, endpoint, status and cache", () => {
    const groups = groupBy(records, (record) => [providerOf(record), modelOf(record), record.endpoint, record.status, cacheLabelOf(record)])
    const scraped = scrape.samples.filter((sample) => sample.name === "fluxen_requests_total")
    expect(scraped).toHaveLength(groups.length)
    for (const { labels: [provider, model, endpoint, status, cache], records: grouped } of groups) {
      expect(
        valueOf(scrape, "fluxen_requests_total", { provider: provider!, model: model!, endpoint: endpoint!, status: status!, cache: cache! })
      ).toBe(grouped.length)
    }
  })

  it("sums tokens per kind as the usage records do", () => {
    const tokenFields = {
      prompt: (record: UsageRecord) => record.promptTokens,
      completion: (record: UsageRecord) => record.completionTokens,
      cached: (record: UsageRecord) => record.cachedInputTokens,
      cache_write: (record: UsageRecord) => record.cacheWriteTokens,
      reasoning: (record: UsageRecord) => record.reasoningTokens
    }
    const groups = groupBy(records, (record) => [providerOf(record), modelOf(record), cacheLabelOf(record)])
    expect(groups.some(({ labels }) => labels[2] === "hit")).toBe(true)
    for (const { labels: [provider, model, cache], records: grouped } of groups) {
      for (const [kind, field] of Object.entries(tokenFields)) {
        expect(
          valueOf(scrape, "fluxen_tokens_total", { provider: provider!, model: model!, kind, cache: cache! }),
          `${kind} tokens of ${model} with cache=${cache}`
        ).toBe(sum(grouped, field))
      }
    }
    const promptTotal = scrape.samples
      .filter((sample) => sample.name === "fluxen_tokens_total" && sample.labels.kind === "prompt")
      .reduce((total, sample) => total + sample.value, 0)
    expect(promptTotal).toBe(sum(records, (record) => record.promptTokens))
    expect(promptTotal).toBeGreaterThan(0)
  })

  it("sums cost per provider and model", () => {
    for (const { labels: [provider, model], records: grouped } of groupBy(records, (record) => [providerOf(record), modelOf(record)])) {
      const labels = { provider: provider!, model: model! }
      if (grouped.every((record) => record.costUsd === null)) {
        expect(valueOf(scrape, "fluxen_unpriced_requests_total", labels), `unpriced requests of ${model}`).toBe(grouped.length)
        expect(hasSample(scrape, "fluxen_cost_usd_total", labels), `cost sample of ${model}`).toBe(false)
        continue
      }
      expect(valueOf(scrape, "fluxen_cost_usd_total", labels)).toBeCloseTo(
        sum(grouped, (record) => record.costUsd),
        12
      )
    }
    expect(sum(records, (record) => record.costUsd)).toBeGreaterThan(0)
  })

  it("reports the unpriced model without a cost", () => {
    // The upstream model of `odd-upstream` has no price, so its record has a null cost.
    const unpriced = records.filter((record) => record.costUsd === null)
    expect(unpriced.map((record) => record.resolvedModel)).toEqual([ODD_UPSTREAM_MODEL])
    expect(scrape.samples.filter((sample) => sample.name === "fluxen_unpriced_requests_total")).toHaveLength(1)
  })

  it("counts the cache hit and the cost it saved", () => {
    expect(valueOf(scrape, "fluxen_cache_hits_total", { kind: "exact" })).toBe(1)
    expect(valueOf(scrape, "fluxen_cache_hits_total", { kind: "semantic" })).toBe(0)
    const saved = sum(records, (record) => record.costSavedUsd)
    expect(saved).toBeGreaterThan(0)
    expect(valueOf(scrape, "fluxen_cost_saved_usd_total")).toBeCloseTo(saved, 12)
  })

  it("counts the upstream error by its kind", () => {
    expect(valueOf(scrape, "fluxen_upstream_errors_total", { provider: "openai", model: "gpt-4o-mini-2024-07-18", error: "http_status" })).toBe(1)
    expect(scrape.samples.filter((sample) => sample.name === "fluxen_upstream_errors_total")).toHaveLength(1)
  })

  it("observes every request in the duration histogram", () => {
    for (const { labels: [provider, model], records: grouped } of groupBy(records, (record) => [providerOf(record), modelOf(record)])) {
      const labels = { provider: provider!, model: model! }
      expect(valueOf(scrape, "fluxen_request_duration_seconds_count", labels)).toBe(grouped.length)
      expect(Math.abs(valueOf(scrape, "fluxen_request_duration_seconds_sum", labels) - sum(grouped, (record) => record.totalMs) / 1000)).toBeLessThanOrEqual(
        grouped.length * roundingSeconds + 1e-9
      )
      expect(valueOf(scrape, "fluxen_request_duration_seconds_bucket", { ...labels, le: "+Inf" })).toBe(grouped.length)

      const buckets = scrape.samples.filter(
        (sample) => sample.name === "fluxen_request_duration_seconds_bucket" && sample.labels.provider === provider && sample.labels.model === model
      )
      const counts = buckets.map((sample) => sample.value)
      expect(counts, "cumulative bucket counts").toEqual([...counts].sort((a, b) => a - b))
      for (const sample of buckets) {
        // The gateway observed the unrounded duration, which lies within half a millisecond of the stored one.
        const boundMs = parseValue(sample.labels.le!) * 1000
        const surelyInside = grouped.filter((record) => record.totalMs + 0.5 <= boundMs).length
        const possiblyInside = grouped.filter((record) => record.totalMs - 0.5 <= boundMs).length
        expect(sample.value, `bucket le=${sample.labels.le} of ${model}`).toBeGreaterThanOrEqual(surelyInside)
        expect(sample.value, `bucket le=${sample.labels.le} of ${model}`).toBeLessThanOrEqual(possiblyInside)
      }
    }
  })

  it("observes first bytes from the provider only", () => {
    const fromProvider = records.filter((record) => record.firstByteMs !== null && !isCacheHit(record))
    expect(fromProvider).toHaveLength(3)
    for (const { labels: [provider, model], records: grouped } of groupBy(fromProvider, (record) => [providerOf(record), modelOf(record)])) {
      const labels = { provider: provider!, model: model! }
      expect(valueOf(scrape, "fluxen_upstream_first_byte_seconds_count", labels)).toBe(grouped.length)
      expect(
        Math.abs(valueOf(scrape, "fluxen_upstream_first_byte_seconds_sum", labels) - sum(grouped, (record) => record.firstByteMs) / 1000)
      ).toBeLessThanOrEqual(grouped.length * roundingSeconds + 1e-9)
    }
  })

  it("escapes quotes, backslashes and line feeds in label values", () => {
    expect(scrape.text).toContain('model="up\\"stream\\\\model\\nname"')
    expect(valueOf(scrape, "fluxen_tokens_total", { provider: "openai", model: ODD_UPSTREAM_MODEL, kind: "prompt", cache: "none" })).toBe(
      sum(records.filter((record) => record.resolvedModel === ODD_UPSTREAM_MODEL), (record) => record.promptTokens)
    )
  })

  it("counts hook calls, faults and timeouts per plugin", () => {
    const plugins = harness.gateway.running.gateway.hooks.plugins
    expect(plugins.map((plugin) => plugin.name)).toEqual(["@fluxen/analyzer", "@fluxen/cache", "dies", "sleeps"])

    // The unknown model fails before any hook runs, and the cache hit ends the chain before `dies` and `sleeps`.
    const hooked = records.filter((record) => record.errorType !== "ModelNotFoundError").length
    const pastCache = hooked - records.filter(isCacheHit).length
    const definedHooks = (index: number) =>
      (["beforeRequest", "afterResponse", "afterUsage"] as const).filter((hook) => plugins[index]!.hooks[hook] !== undefined).length

    expect(valueOf(scrape, "fluxen_plugin_hook_calls_total", { plugin: "@fluxen/analyzer" })).toBe(definedHooks(0) * hooked)
    expect(valueOf(scrape, "fluxen_plugin_hook_calls_total", { plugin: "@fluxen/cache" })).toBe(definedHooks(1) * hooked)
    expect(valueOf(scrape, "fluxen_plugin_hook_calls_total", { plugin: "dies" })).toBe(2 * pastCache)
    expect(valueOf(scrape, "fluxen_plugin_hook_calls_total", { plugin: "sleeps" })).toBe(2 * pastCache)

    expect(valueOf(scrape, "fluxen_plugin_hook_faults_total", { plugin: "@fluxen/analyzer" })).toBe(0)
    expect(valueOf(scrape, "fluxen_plugin_hook_faults_total", { plugin: "@fluxen/cache" })).toBe(0)
    expect(valueOf(scrape, "fluxen_plugin_hook_faults_total", { plugin: "dies" })).toBe(pastCache)
    expect(valueOf(scrape, "fluxen_plugin_hook_faults_total", { plugin: "sleeps" })).toBe(pastCache)

    expect(valueOf(scrape, "fluxen_plugin_hook_timeouts_total", { plugin: "dies" })).toBe(0)
    expect(valueOf(scrape, "fluxen_plugin_hook_timeouts_total", { plugin: "sleeps" })).toBe(pastCache)

    // Each timed-out call waited at least the timeout before it was abandoned.
    expect(valueOf(scrape, "fluxen_plugin_hook_seconds_total", { plugin: "sleeps" })).toBeGreaterThanOrEqual((pastCache * SLEEP_TIMEOUT_MS) / 1000 - 0.01)
  })

  it("reports no request in flight and an empty usage queue", () => {
    expect(valueOf(scrape, "fluxen_inflight_requests")).toBe(0)
    expect(valueOf(scrape, "fluxen_usage_queue_records")).toBe(0)
    expect(valueOf(scrape, "fluxen_usage_written_records_total")).toBe(6)
    expect(valueOf(scrape, "fluxen_usage_dropped_records_total")).toBe(0)
  })
})
