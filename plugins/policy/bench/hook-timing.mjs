// Measures the time per call of the policy hooks with a static key, a key
// budget and request and token limits, counters in memory, as the runtime
// runs them (synchronously through Runtime.runSyncExit).
//
// Run after `npx tsc -b plugins/policy` from the repository root:
//   node plugins/policy/bench/hook-timing.mjs [iterations]
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { HttpTransport, Plugin, PluginHost } from "@fluxen/sdk"
import { Context, Effect, Exit, Layer, Runtime, Schema } from "effect"
import { createHash } from "node:crypto"
import os from "node:os"
import policy from "../dist/index.js"

const iterations = Number(process.argv[2] ?? 200_000)
const key = `fx-${"b".repeat(43)}`

// The columns of the runtime's usage table that the policy reads.
const usageTable = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql`CREATE TABLE fluxen_usage (request_id TEXT PRIMARY KEY, created_at INTEGER NOT NULL, key_id TEXT, team TEXT,
      requested_model TEXT NOT NULL, resolved_model TEXT, cost_usd REAL)`
)

const config = Schema.decodeUnknownSync(policy.configSchema)({
  keys: [
    {
      key,
      name: "bench",
      budgets: [{ period: "day", limitUsd: 1e9 }],
      limits: { requestsPerMinute: 1e9, tokensPerMinute: 1e12 }
    }
  ]
})

const headers = { get: (name) => (name === "authorization" ? `Bearer ${key}` : undefined) }
const request = { model: "gpt-4o-mini", messages: [{ role: "user", content: "Say hi" }], max_tokens: 100 }

const makeContext = () => ({
  requestId: "bench",
  endpoint: "chat",
  stream: false,
  startedAt: 0,
  headers,
  request,
  route: { requestedModel: "gpt-4o-mini", provider: "openai", upstreamModel: "gpt-4o-mini-2024-07-18" },
  caller: { keyId: null, team: null, metadata: {} },
  record: { promptTokensEstimate: 12 },
  responseHeaders: {},
  attributes: new Map()
})

const recorded = {
  status: "ok",
  httpStatus: 200,
  usage: { promptTokens: 12, completionTokens: 30, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 },
  estimated: false,
  costUsd: 0.00002
}

const program = Effect.gen(function* () {
  yield* usageTable
  const host = Context.make(PluginHost, { instanceName: "@fluxen/policy", packageName: "@fluxen/policy", configDirectory: "." }).pipe(
    Context.add(HttpTransport, { send: () => Promise.reject(new Error("no transport in the benchmark")) })
  )
  const built = yield* Layer.build(policy.layer(config)).pipe(Effect.provide(host))
  const { hooks } = Context.get(built, Plugin)
  // The first call seeds the budget from the usage table, which waits on the database.
  yield* hooks.beforeRequest(makeContext())
  return hooks
})

const scoped = await Effect.runPromise(
  Effect.gen(function* () {
    const runtime = yield* Effect.runtime()
    const hooks = yield* program
    return { runtime, hooks }
  }).pipe(Effect.scoped, Effect.provide(SqliteClient.layer({ filename: ":memory:" })), Effect.provide(Layer.empty))
)
const runSync = Runtime.runSyncExit(Runtime.defaultRuntime)
const { hooks } = scoped

const measure = (label, body) => {
  for (let i = 0; i < 20_000; i++) body()
  const started = performance.now()
  for (let i = 0; i < iterations; i++) body()
  const perCallUs = ((performance.now() - started) * 1_000) / iterations
  console.log(`${label}: ${perCallUs.toFixed(2)} µs per call (${iterations} calls)`)
}

let failures = 0
const emptyHook = () => Effect.sync(() => undefined)
measure("baseline: context and an empty synchronous hook", () => runSync(emptyHook(makeContext())))
measure("baseline: SHA-256 of the key", () => createHash("sha256").update(key).digest("hex"))
measure("beforeRequest", () => {
  const context = makeContext()
  const exit = runSync(hooks.beforeRequest(context))
  if (!Exit.isSuccess(exit)) failures++
  // Settles without timing it, so the reservations do not pile up.
  context.attributes.clear()
})
measure("beforeRequest + afterUsage", () => {
  const context = makeContext()
  runSync(hooks.beforeRequest(context))
  const exit = runSync(hooks.afterUsage(context, recorded))
  if (!Exit.isSuccess(exit)) failures++
})
if (failures > 0) console.log(`${failures} calls did not complete synchronously or failed`)
console.log(`node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model}), load average ${os.loadavg()[0].toFixed(1)}`)
