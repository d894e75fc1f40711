import { Effect, Layer, Scope, Exit, Context, Schema } from "effect"
import { Plugin, PluginHost, HttpTransport } from "@fluxen/sdk"
import definition from "./dist/index.js"
const host = Layer.succeed(PluginHost, { instanceName: "analyzer", packageName: "@fluxen/analyzer", configDirectory: "/tmp" })
const transport = Layer.succeed(HttpTransport, { send: () => { throw new Error("no") } })
const program = Effect.gen(function* () {
  const config = yield* Schema.decodeUnknown(definition.configSchema)({})
  console.log(config)
  const scope = yield* Scope.make()
  const ctx = yield* Layer.buildWithScope(definition.layer(config).pipe(Layer.provide(Layer.merge(host, transport))), scope)
  const plugin = Context.get(ctx, Plugin)
  const big = "word ".repeat(200_000)
  const context = { requestId: "r1", endpoint: "chat", stream: false, startedAt: 0, headers: { get: () => undefined }, request: { model: "gpt-4o", messages: [{ role: "user", content: big }] }, route: { requestedModel: "gpt-4o", provider: "openai", upstreamModel: "gpt-4o-2024-08-06" }, caller: { keyId: null, team: null, metadata: {} }, record: {}, responseHeaders: {}, attributes: new Map() }
  const t = performance.now()
  yield* plugin.hooks.beforeRequest(context)
  console.log("estimate", context.record.promptTokensEstimate, (performance.now() - t).toFixed(1), "ms")
  yield* plugin.hooks.afterResponse(context, { status: "ok", httpStatus: 200, usage: { promptTokens: 1000, completionTokens: 10, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 }, error: undefined, response: {}, streamedText: "", answeredByHook: false })
  console.log(context.record)
  yield* Scope.close(scope, Exit.void)
  console.log("closed")
})
await Effect.runPromise(program)
