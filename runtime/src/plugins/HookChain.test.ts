import { describe, expect, it } from "@effect/vitest"
import { AuthenticationError, LimitExceededError, type ListedModel, type Outcome, type RequestContext, type RequestHooks } from "@fluxen/sdk"
import { Effect, Exit, Logger, Runtime } from "effect"
import { HookChain, makeHookStats, type HookPlugin } from "./HookChain.js"

const context = (): RequestContext => ({
  requestId: "req-1",
  endpoint: "chat",
  stream: false,
  startedAt: 0,
  headers: { get: () => undefined },
  request: { model: "m", messages: [{ role: "user", content: "hi" }] },
  route: { requestedModel: "m", provider: "p", upstreamModel: "m" },
  caller: { keyId: null, team: null, metadata: {} },
  record: {},
  responseHeaders: {},
  attributes: new Map()
})

const outcome: Outcome = {
  status: "ok",
  httpStatus: 200,
  usage: undefined,
  error: undefined,
  response: undefined,
  streamedText: "",
  answeredByHook: false
}

const plugin = (name: string, hooks: RequestHooks, options: Partial<Pick<HookPlugin, "failMode" | "timeoutMs">> = {}): HookPlugin => ({
  name,
  hooks,
  failMode: options.failMode ?? "open",
  timeoutMs: options.timeoutMs ?? 1_000,
  stats: makeHookStats()
})

const chain = (plugins: Array<HookPlugin>) => new HookChain(plugins, Runtime.defaultRuntime)

const silent = Logger.replace(Logger.defaultLogger, Logger.none)

describe("HookChain", () => {
  it.effect("runs before hooks in order and after hooks in reverse", () =>
    Effect.gen(function* () {
      const calls: Array<string> = []
      const track = (name: string): RequestHooks => ({
        beforeRequest: () => Effect.sync(() => void calls.push(`before:${name}`)),
        afterResponse: () => Effect.sync(() => void calls.push(`after:${name}`))
      })
      const hooks = chain([plugin("a", track("a")), plugin("b", track("b")), plugin("c", track("c"))])
      const progress = { ran: 0 }
      yield* hooks.runBefore(context(), progress)
      yield* hooks.runAfter(context(), outcome, progress.ran)
      expect(calls).toEqual(["before:a", "before:b", "before:c", "after:c", "after:b", "after:a"])
    }))

  it.effect("keeps reverse order when an after hook waits", () =>
    Effect.gen(function* () {
      const calls: Array<string> = []
      const hooks = chain([
        plugin("a", { afterResponse: () => Effect.sync(() => void calls.push("a")) }),
        plugin("b", { afterResponse: () => Effect.delay(Effect.sync(() => void calls.push("b")), "20 millis") })
      ])
      yield* hooks.runAfter(context(), outcome, 2)
      expect(calls).toEqual(["b", "a"])
    }))

  it.effect("stops at a responding hook", () =>
    Effect.gen(function* () {
      const calls: Array<string> = []
      const answer = { respond: { _tag: "Json" as const, status: 200, headers: {}, body: { cached: true } } }
      const hooks = chain([
        plugin("cache", { beforeRequest: () => Effect.succeed(answer), afterResponse: () => Effect.sync(() => void calls.push("cache")) }),
        plugin("later", { beforeRequest: () => Effect.sync(() => void calls.push("later-before")), afterResponse: () => Effect.sync(() => void calls.push("later")) })
      ])
      const progress = { ran: 0 }
      const decision = yield* hooks.runBefore(context(), progress)
      yield* hooks.runAfter(context(), outcome, progress.ran)
      expect(decision).toBe(answer)
      expect(progress.ran).toBe(1)
      expect(calls).toEqual(["cache"])
    }))

  it.effect("passes a hook's gateway error through in open mode", () =>
    Effect.gen(function* () {
      const denied = new LimitExceededError({ message: "budget spent", kind: "quota" })
      const hooks = chain([plugin("budget", { beforeRequest: () => Effect.fail(denied) }, { failMode: "open" })])
      const exit = yield* Effect.exit(hooks.runBefore(context(), { ran: 0 }))
      expect(exit).toEqual(Exit.fail(denied))
    }))

  it.effect("skips a throwing hook in open mode and counts it", () =>
    Effect.gen(function* () {
      const calls: Array<string> = []
      const faulty = plugin("faulty", {
        beforeRequest: () => {
          throw new Error("bug in plugin")
        }
      })
      const hooks = chain([faulty, plugin("next", { beforeRequest: () => Effect.sync(() => void calls.push("next")) })])
      const decision = yield* hooks.runBefore(context(), { ran: 0 }).pipe(Effect.provide(silent))
      expect(decision).toBeUndefined()
      expect(calls).toEqual(["next"])
      expect(faulty.stats.faults).toBe(1)
      expect(faulty.stats.timeouts).toBe(0)
    }))

  it.effect("fails the request for a dying hook in closed mode", () =>
    Effect.gen(function* () {
      const hooks = chain([plugin("strict", { beforeRequest: () => Effect.die("boom") }, { failMode: "closed" })])
      const exit = yield* Effect.exit(hooks.runBefore(context(), { ran: 0 }).pipe(Effect.provide(silent)))
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit) && exit.cause._tag === "Fail") {
        expect(exit.cause.error._tag).toBe("PluginError")
        expect((exit.cause.error as { plugin: string }).plugin).toBe("strict")
      } else {
        expect.fail("expected a PluginError failure")
      }
    }))

  it.effect("skips a hook that returns no effect in open mode", () =>
    Effect.gen(function* () {
      const broken = plugin("broken", { beforeRequest: () => undefined as never })
      const decision = yield* chain([broken]).runBefore(context(), { ran: 0 }).pipe(Effect.provide(silent))
      expect(decision).toBeUndefined()
      expect(broken.stats.faults).toBe(1)
    }))

  it.live("times out a slow hook and skips it in open mode", () =>
    Effect.gen(function* () {
      const slow = plugin("slow", { beforeRequest: () => Effect.as(Effect.sleep("5 seconds"), undefined) }, { timeoutMs: 50 })
      const started = Date.now()
      const decision = yield* hooks(slow).runBefore(context(), { ran: 0 }).pipe(Effect.provide(silent))
      expect(decision).toBeUndefined()
      expect(slow.stats.timeouts).toBe(1)
      expect(Date.now() - started).toBeLessThan(2_000)
    }))

  it.live("times out a slow hook with a PluginError in closed mode", () =>
    Effect.gen(function* () {
      const slow = plugin("slow", { beforeRequest: () => Effect.as(Effect.sleep("5 seconds"), undefined) }, { timeoutMs: 50, failMode: "closed" })
      const exit = yield* Effect.exit(hooks(slow).runBefore(context(), { ran: 0 }).pipe(Effect.provide(silent)))
      expect(Exit.isFailure(exit)).toBe(true)
      const failure = Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined
      expect(failure?._tag).toBe("PluginError")
    }))

  it.effect("logs and swallows after hook failures", () =>
    Effect.gen(function* () {
      const calls: Array<string> = []
      const hooks = chain([
        plugin("first", { afterResponse: () => Effect.sync(() => void calls.push("first")) }),
        plugin("broken", { afterResponse: () => Effect.die("after bug") }, { failMode: "closed" })
      ])
      yield* hooks.runAfter(context(), outcome, 2).pipe(Effect.provide(silent))
      expect(calls).toEqual(["first"])
    }))
})

const hooks = (single: HookPlugin) => chain([single])

describe("HookChain in a finalizer", () => {
  it.live("times out a slow after hook even where interruption is off", () =>
    Effect.gen(function* () {
      const slow = plugin("slow-after", { afterResponse: () => Effect.sleep("3 seconds") }, { timeoutMs: 50 })
      const started = Date.now()
      yield* Effect.uninterruptible(chain([slow]).runAfter(context(), outcome, 1).pipe(Effect.provide(silent)))
      expect(slow.stats.timeouts).toBe(1)
      expect(Date.now() - started).toBeLessThan(1_500)
    }))
})

const models: ReadonlyArray<ListedModel> = [
  { id: "a", provider: "p" },
  { id: "b", provider: "p" },
  { id: "c", provider: "q" }
]
const noHeaders = { get: () => undefined }
const idsOf = (listed: ReadonlyArray<ListedModel>) => listed.map((model) => model.id)

describe("HookChain listModels", () => {
  it.effect("narrows the list in order", () =>
    Effect.gen(function* () {
      const seen: Array<Array<string>> = []
      const without = (id: string): RequestHooks => ({
        listModels: (_headers, listed) =>
          Effect.sync(() => {
            seen.push(idsOf(listed))
            return listed.filter((model) => model.id !== id)
          })
      })
      const hooks = chain([plugin("first", without("a")), plugin("none", {}), plugin("second", without("c"))])

      const listed = yield* hooks.runListModels(noHeaders, models)

      expect(idsOf(listed)).toEqual(["b"])
      expect(seen).toEqual([["a", "b", "c"], ["b", "c"]])
    }))

  it.effect("passes the client's headers", () =>
    Effect.gen(function* () {
      const headers = { get: (name: string) => (name === "authorization" ? "Bearer fx-test" : undefined) }
      let received: string | undefined
      const hooks = chain([
        plugin("auth", {
          listModels: (given, listed) =>
            Effect.sync(() => {
              received = given.get("authorization")
              return listed
            })
        })
      ])

      yield* hooks.runListModels(headers, models)

      expect(received).toBe("Bearer fx-test")
    }))

  it.effect("returns a gateway error unchanged", () =>
    Effect.gen(function* () {
      const missing = new AuthenticationError({ message: "Missing API key." })
      const later: Array<string> = []
      const hooks = chain([
        plugin("auth", { listModels: () => Effect.fail(missing) }),
        plugin("later", {
          listModels: (_headers, listed) =>
            Effect.sync(() => {
              later.push("later")
              return listed
            })
        })
      ])

      const exit = yield* Effect.exit(hooks.runListModels(noHeaders, models))

      expect(exit).toEqual(Exit.fail(missing))
      expect(later).toEqual([])
    }))

  it.effect("open mode skips a faulty hook", () =>
    Effect.gen(function* () {
      const faulty = plugin("faulty", {
        listModels: () => {
          throw new Error("bug in plugin")
        }
      })

      const listed = yield* chain([faulty]).runListModels(noHeaders, models).pipe(Effect.provide(silent))

      expect(idsOf(listed)).toEqual(["a", "b", "c"])
      expect(faulty.stats.faults).toBe(1)
    }))

  it.effect("logs a fault with the request id", () =>
    Effect.gen(function* () {
      const annotations: Array<Record<string, unknown>> = []
      const capture = Logger.make(({ annotations: logged }) => {
        annotations.push(Object.fromEntries(logged))
      })
      const runtime = Effect.runSync(Effect.runtime<never>().pipe(Effect.provide(Logger.replace(Logger.defaultLogger, capture))))
      const faulty = plugin("faulty", {
        listModels: () => {
          throw new Error("bug in plugin")
        }
      })

      yield* new HookChain([faulty], runtime).runListModels(noHeaders, models, "req-models")

      expect(annotations.map((logged) => logged["request.id"])).toEqual(["req-models"])
    }))

  it.effect("closed mode fails with PluginError", () =>
    Effect.gen(function* () {
      const strict = plugin("strict", { listModels: () => Effect.die("boom") }, { failMode: "closed" })

      const error = yield* Effect.flip(chain([strict]).runListModels(noHeaders, models).pipe(Effect.provide(silent)))

      expect(error._tag).toBe("PluginError")
      expect((error as { hook: string }).hook).toBe("listModels")
    }))

  it.live("times out a slow hook", () =>
    Effect.gen(function* () {
      const slow = plugin("slow", { listModels: () => Effect.as(Effect.sleep("5 seconds"), []) }, { timeoutMs: 50 })
      const started = Date.now()

      const listed = yield* chain([slow]).runListModels(noHeaders, models).pipe(Effect.provide(silent))

      expect(idsOf(listed)).toEqual(["a", "b", "c"])
      expect(slow.stats.timeouts).toBe(1)
      expect(Date.now() - started).toBeLessThan(2_000)
    }))
})
