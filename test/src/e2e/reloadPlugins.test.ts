/**
 * Tests of which plugins a SIGHUP reload starts again. The gateway runs as a child
 * process behind a replaying upstream, and each test edits its
 * configuration file, sends SIGHUP and reads the log as an operator does.
 */
import { fileURLToPath } from "node:url"
import OpenAI from "openai"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { startGatewayProcess, type GatewayProcess } from "../support/gatewayProcess.js"
import { startReplayUpstream, type ReplayUpstream } from "../support/replayUpstream.js"
import { waitFor } from "../support/waitFor.js"

const unreachableServerPlugin = fileURLToPath(new URL("../../dist/support/unreachableServerPlugin.js", import.meta.url))

const FIRST_KEY = "sk-first-upstream-key"
const ROTATED_KEY = "sk-rotated-upstream-key"
const CACHE_ENTRY = { store: "memory", ttl: "1 hour" }

interface ConfigOptions {
  readonly providerKey?: string
  /** The `config` of `@fluxen/cache`, written as JSON. */
  readonly cache?: Readonly<Record<string, string>>
  /** The `config` of `@fluxen/otel`. Without it, the plugin is not loaded. */
  readonly otel?: Readonly<Record<string, string>>
  /** YAML lines appended under `plugins:`, after the cache. */
  readonly extraPlugins?: string
}

const configText = (upstreamUrl: string, options: ConfigOptions = {}) => `server: { host: 127.0.0.1, port: 0, shutdownTimeout: 10 seconds }
usage: { sqlitePath: ./usage.db, flushInterval: 50 }
logging: { level: info }
providers:
  openai:
    use: "@fluxen/provider-openai"
    config: { baseUrl: "${upstreamUrl}/v1", apiKey: "${options.providerKey ?? FIRST_KEY}" }
models:
  gpt-4o-mini: { provider: openai, model: gpt-4o-mini-2024-07-18 }
plugins:
${options.otel === undefined ? "" : `  - use: "@fluxen/otel"\n    config: ${JSON.stringify(options.otel)}\n`}  - use: "@fluxen/analyzer"
  - use: "@fluxen/cache"
    config: ${JSON.stringify(options.cache ?? CACHE_ENTRY)}
${options.extraPlugins ?? ""}`

/** Returns the value of a logfmt field in each line of `log` whose message is `message`, or "" for a line without the field. */
const logFields = (log: string, message: string, field: string): Array<string> => {
  const pattern = new RegExp(`(?:^| )${field.replace(/\./g, "\\.")}=(\\S+)`)
  return log
    .split("\n")
    .filter((line) => line.includes(`message="${message}"`))
    .map((line) => pattern.exec(line)?.[1] ?? "")
}

/** Returns the labels that the reload's log line in `log` lists under `field`, sorted. */
const labels = (log: string, field: string): Array<string> =>
  (logFields(log, "Configuration reloaded", field)[0] ?? "").split(",").filter((label) => label !== "").sort()

describe("plugin restarts on reload", () => {
  let upstream: ReplayUpstream
  let gateway: GatewayProcess
  let client: OpenAI

  beforeEach(async () => {
    upstream = await startReplayUpstream()
    upstream.route("/v1/traces", { status: 200, body: "{}" })
  })

  afterEach(async () => {
    await gateway?.stop()
    await upstream.close()
  })

  const start = async (options: ConfigOptions = {}) => {
    gateway = await startGatewayProcess(configText(upstream.url, options))
    client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: "client-key", maxRetries: 0 })
  }

  /** Sends a chat request and returns its `x-fluxen-cache` header. A miss takes the next queued upstream reply. */
  const ask = async (question: string): Promise<string | null> => {
    const { response } = await client.chat.completions
      .create({ model: "gpt-4o-mini", messages: [{ role: "user", content: question }] })
      .withResponse()
    return response.headers.get("x-fluxen-cache")
  }

  /** Returns the sample of `series`, its name with any labels, from a `/metrics` scrape. */
  const metric = async (series: string): Promise<number> => {
    const line = (await (await fetch(`${gateway.url}/metrics`)).text()).split("\n").find((candidate) => candidate.startsWith(`${series} `))
    return line === undefined ? Number.NaN : Number(line.slice(series.length + 1))
  }

  /** Sends a question the cache has not seen and returns the `authorization` header the upstream received. */
  const upstreamAuthorization = async (question: string): Promise<string | undefined> => {
    upstream.enqueue({ fixture: "openai/chat-completions/text.json" })
    expect(await ask(question)).toBe("miss")
    return upstream.requests.at(-1)?.headers.authorization
  }

  it("key change keeps cached entries", async () => {
    await start()
    upstream.enqueue({ fixture: "openai/chat-completions/text.json" })
    expect(await ask("Name a prime number.")).toBe("miss")
    expect(await ask("Name a prime number.")).toBe("hit")
    const upstreamCalls = upstream.requests.length
    const cacheHookCalls = await metric(`fluxen_plugin_hook_calls_total{plugin="@fluxen/cache"}`)

    const log = await gateway.reload(configText(upstream.url, { providerKey: ROTATED_KEY }))

    expect(log).toContain(`message="Configuration reloaded"`)
    expect(labels(log, "plugins.restarted")).toEqual(["providers.openai"])
    expect(labels(log, "plugins.kept")).toEqual(["plugins.@fluxen/analyzer", "plugins.@fluxen/cache"])
    expect(cacheHookCalls).toBeGreaterThan(0)
    expect(await metric(`fluxen_plugin_hook_calls_total{plugin="@fluxen/cache"}`)).toBe(cacheHookCalls)
    expect(await metric(`fluxen_cache_memory_entries{plugin="@fluxen/cache"}`)).toBe(1)
    expect(await ask("Name a prime number.")).toBe("hit")
    expect(upstream.requests.length).toBe(upstreamCalls)
    expect(await upstreamAuthorization("Name an even number.")).toBe(`Bearer ${ROTATED_KEY}`)
  })

  it("digit key from env stays text", async () => {
    // Plugins start through the same code at start and on reload. Without the list of values
    // converted from `${VAR}`, the provider's section would read the number 42 and fail to start.
    process.env["FLUXEN_TEST_DIGIT_KEY"] = "0042"
    try {
      await start({ providerKey: "${FLUXEN_TEST_DIGIT_KEY}" })
    } finally {
      delete process.env["FLUXEN_TEST_DIGIT_KEY"]
    }

    expect(await upstreamAuthorization("Name a square number.")).toBe("Bearer 0042")
  })

  it("cache section change restarts cache", async () => {
    await start()
    upstream.enqueue({ fixture: "openai/chat-completions/text.json" })
    expect(await ask("Name a prime number.")).toBe("miss")
    const upstreamCalls = upstream.requests.length

    const log = await gateway.reload(configText(upstream.url, { cache: { ...CACHE_ENTRY, ttl: "2 hours" } }))

    expect(labels(log, "plugins.restarted")).toEqual(["plugins.@fluxen/cache"])
    expect(labels(log, "plugins.kept")).toEqual(["plugins.@fluxen/analyzer", "providers.openai"])
    upstream.enqueue({ fixture: "openai/chat-completions/text.json" })
    expect(await ask("Name a prime number.")).toBe("miss")
    expect(upstream.requests.length).toBe(upstreamCalls + 1)
  })

  it("reordered cache keys keep cache", async () => {
    await start()
    upstream.enqueue({ fixture: "openai/chat-completions/text.json" })
    expect(await ask("Name a prime number.")).toBe("miss")

    const log = await gateway.reload(configText(upstream.url, { cache: { ttl: CACHE_ENTRY.ttl, store: CACHE_ENTRY.store } }))

    expect(log).toContain(`message="Configuration reloaded"`)
    expect(labels(log, "plugins.restarted")).toEqual([])
    expect(labels(log, "plugins.kept")).toEqual(["plugins.@fluxen/analyzer", "plugins.@fluxen/cache", "providers.openai"])
    expect(await ask("Name a prime number.")).toBe("hit")
  })

  it("added and removed plugins are logged", async () => {
    await start({ otel: { endpoint: `${upstream.url}/v1/traces` } })

    const log = await gateway.reload(configText(upstream.url))

    expect(labels(log, "plugins.removed")).toEqual(["plugins.@fluxen/otel"])
    expect(labels(log, "plugins.restarted")).toEqual([])
    expect(labels(log, "plugins.kept")).toEqual(["plugins.@fluxen/analyzer", "plugins.@fluxen/cache", "providers.openai"])
    await waitFor(async () => gateway.output().includes("OpenTelemetry export stopped"), "the removed plugin to stop", gateway.output)

    const added = await gateway.reload(configText(upstream.url, { otel: { endpoint: `${upstream.url}/v1/traces` } }))
    expect(labels(added, "plugins.added")).toEqual(["plugins.@fluxen/otel"])
  })

  it("failed reload keeps every plugin", async () => {
    await start()
    upstream.enqueue({ fixture: "openai/chat-completions/text.json" })
    expect(await ask("Name a prime number.")).toBe("miss")
    // The provider, the cache and the tracer start anew, and then the last plugin fails to start.
    const failing = configText(upstream.url, {
      providerKey: ROTATED_KEY,
      cache: { ...CACHE_ENTRY, ttl: "2 hours" },
      otel: { endpoint: `${upstream.url}/v1/traces` },
      extraPlugins: `  - use: ${JSON.stringify(unreachableServerPlugin)}\n    config: { url: "http://127.0.0.1:9", apiKey: "plugin-key" }\n`
    })

    const log = await gateway.reload(failing)

    expect(log).toContain("The reloaded configuration failed to start")
    // The tracer that this reload started closes again.
    await waitFor(async () => gateway.output().includes("OpenTelemetry export stopped"), "the new tracer to stop", gateway.output)
    expect(await ask("Name a prime number.")).toBe("hit")
    expect(await upstreamAuthorization("Name an even number.")).toBe(`Bearer ${FIRST_KEY}`)
  })

  it("draining gateway keeps its plugins", async () => {
    const otel = { endpoint: `${upstream.url}/v1/traces` }
    await start({ otel })
    // About 12 events, 300 ms apart: the stream outlasts both reloads below.
    upstream.enqueue({ fixture: "openai/chat-completions/text-stream-usage.sse", writes: "per-event", delayMs: 300 })
    const streamed = (async () => {
      const stream = await client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Count to ten." }], stream: true })
      let finish: string | null = null
      for await (const chunk of stream) finish = chunk.choices[0]?.finish_reason ?? finish
      return finish
    })()
    await waitFor(async () => upstream.requests.some((request) => request.path === "/v1/chat/completions"), "the stream to start", gateway.output)

    // The first reload keeps the tracer, and the second replaces it while the first gateway
    // still streams through it. Only the first gateway's drain may close that tracer.
    const kept = await gateway.reload(configText(upstream.url, { otel, providerKey: ROTATED_KEY }))
    const replaced = await gateway.reload(configText(upstream.url, { otel: { ...otel, serviceName: "fluxen-reloaded" }, providerKey: ROTATED_KEY }))

    expect(labels(kept, "plugins.kept")).toContain("plugins.@fluxen/otel")
    expect(labels(replaced, "plugins.restarted")).toEqual(["plugins.@fluxen/otel"])
    expect(gateway.output()).not.toContain("OpenTelemetry export stopped")
    expect(await streamed).toBe("stop")
    await waitFor(async () => gateway.output().includes("OpenTelemetry export stopped"), "the old tracer to stop", gateway.output)
    // One tracer stopped, the first one, and it exported the streamed request's span as it closed.
    expect(logFields(gateway.output(), "OpenTelemetry export stopped", "spans.exported")).toEqual(["1"])
  })
})
