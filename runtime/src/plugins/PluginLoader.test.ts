import { describe, expect, it } from "@effect/vitest"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { definePlugin, HttpTransport, isRoutableModel, Plugin, PluginHost, SDK_API_VERSION } from "@fluxen/sdk"
import { Effect, Exit, Layer, Logger, Schema, Scope } from "effect"
import { checkPlugin, loadPlugin, type ModuleImporter } from "./PluginLoader.js"
import { PackageNotFoundError, PluginLoadError } from "./PluginLoadError.js"

const transport = Layer.merge(
  Layer.succeed(HttpTransport, { send: () => Promise.reject(new Error("no upstream calls in this test")) }),
  SqliteClient.layer({ filename: ":memory:" })
)

const events: Array<string> = []

const goodPlugin = definePlugin({
  name: "example-plugin",
  version: "1.2.3",
  sdkApiVersion: SDK_API_VERSION,
  configSchema: Schema.Struct({ greeting: Schema.String, retries: Schema.optionalWith(Schema.Int, { default: () => 2 }) }),
  layer: (config) =>
    Layer.scoped(
      Plugin,
      Effect.gen(function* () {
        const host = yield* PluginHost
        yield* Effect.acquireRelease(
          Effect.sync(() => events.push(`open:${host.instanceName}:${config.greeting}:${config.retries}`)),
          () => Effect.sync(() => events.push(`close:${host.instanceName}`))
        )
        return { hooks: {} }
      })
    )
})

const secretsPlugin = definePlugin({
  ...goodPlugin,
  configSchema: Schema.Struct({
    apiKey: Schema.optional(Schema.Redacted(Schema.String)),
    sessionToken: Schema.optional(Schema.Number),
    store: Schema.optional(Schema.Literal("memory", "redis"))
  })
})

// Reports every greeting that names no file, with the directory it was given.
const checkingPlugin = definePlugin({
  ...goodPlugin,
  checkConfig: (config, context) =>
    config.greeting.endsWith(".txt") ? [] : [{ path: ["greeting"], message: `Expected a file name in ${context.configDirectory}.` }]
})

// Reports a greeting that names no model a request could be routed to.
const routingPlugin = definePlugin({
  ...goodPlugin,
  checkConfig: (config, context) =>
    isRoutableModel(config.greeting, context) === false ? [{ path: ["greeting"], message: `No route to '${config.greeting}'.` }] : []
})

const modules: Record<string, unknown> = {
  "example-plugin": { default: goodPlugin },
  "checking-plugin": { default: checkingPlugin },
  "routing-plugin": { default: routingPlugin },
  "secrets-plugin": { default: secretsPlugin },
  "future-plugin": { default: { ...goodPlugin, sdkApiVersion: 99 } },
  "not-a-plugin": { default: { hello: "world" } },
  "failing-plugin": {
    default: definePlugin({ ...goodPlugin, layer: () => Layer.fail("cannot connect") })
  }
}

const importer: ModuleImporter = async (name) => {
  if (name in modules) return modules[name]
  if (name === "broken-plugin") throw new SyntaxError("Unexpected token '}'")
  throw new PackageNotFoundError({ packageName: name, searched: ["next to the configuration file (/etc)", "in /srv"] })
}

const options = { importer, configSource: "/etc/fluxen.yaml", configDirectory: "/etc", models: ["fast"], providers: ["openai"] }

const load = (packageName: string, config: unknown, instanceName = packageName) =>
  loadPlugin({ packageName, instanceName, config, yamlPath: ["plugins", 3] }, options).pipe(
    Effect.provide(transport),
    Effect.provide(Logger.replace(Logger.defaultLogger, Logger.none))
  )

/** Returns the YAML path of a plugin load error, or undefined for another error. */
const pathOf = (error: { readonly _tag: string }): string | undefined => (error instanceof PluginLoadError ? error.path : undefined)

describe("loadPlugin", () => {
  it.effect("builds a plugin with its decoded config and closes its scope", () =>
    Effect.gen(function* () {
      events.length = 0
      const scope = yield* Scope.make()
      const loaded = yield* Scope.extend(load("example-plugin", { greeting: "hi" }, "first"), scope)
      expect(loaded.version).toBe("1.2.3")
      expect(loaded.instance.hooks).toEqual({})
      expect(events).toEqual(["open:first:hi:2"])
      yield* Scope.close(scope, Exit.void)
      expect(events).toEqual(["open:first:hi:2", "close:first"])
    }))

  it.effect("closes plugins in reverse load order", () =>
    Effect.gen(function* () {
      events.length = 0
      const scope = yield* Scope.make()
      yield* Scope.extend(load("example-plugin", { greeting: "a" }, "one"), scope)
      yield* Scope.extend(load("example-plugin", { greeting: "b" }, "two"), scope)
      yield* Scope.close(scope, Exit.void)
      expect(events.filter((event) => event.startsWith("close"))).toEqual(["close:two", "close:one"])
    }))

  it.scoped("reports a bad config value with its YAML path", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(load("example-plugin", { greeting: 5, extra: true }))
      expect(error._tag).toBe("ConfigError")
      const message = error.message
      expect(message).toContain("plugins[3].config.greeting")
      expect(message).toContain("plugins[3].config.extra")
    }))

  it.scoped("rejects a plugin built for another SDK API version", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(load("future-plugin", { greeting: "x" }))
      expect(error._tag).toBe("PluginLoadError")
      expect(error.message).toContain("future-plugin")
      expect(error.message).toContain("SDK API version 99")
      expect(error.message).toContain(`supports version ${SDK_API_VERSION}`)
    }))

  it.scoped("rejects a package without a plugin definition", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(load("not-a-plugin", {}))
      expect(error._tag).toBe("PluginLoadError")
      expect(error.message).toContain("does not export a Fluxen plugin definition")
    }))

  it.scoped("reports a package that is not installed", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(load("missing-plugin", {}))
      expect(error._tag).toBe("PluginLoadError")
      expect(pathOf(error)).toBe("plugins[3].use")
      expect(error.message).toBe(
        "The package 'missing-plugin' is not installed next to the configuration file (/etc) or in /srv. Install it in one of these places, or fix the name."
      )
    }))

  it.scoped("reports a package that fails to import", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(load("broken-plugin", {}))
      expect(error._tag).toBe("PluginLoadError")
      expect(pathOf(error)).toBe("plugins[3].use")
      expect(error.message).toBe("The package 'broken-plugin' failed to import: SyntaxError: Unexpected token '}'")
    }))

  it.scoped("hides secret plugin config values", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(load("secrets-plugin", { apiKey: 31415926, sessionToken: "tok-abcdef", store: "disk" }))
      expect(error._tag).toBe("ConfigError")
      const lines = error.message.split("\n").slice(1)
      expect(lines).toEqual([
        "  plugins[3].config.apiKey: Expected string, actual a number",
        "  plugins[3].config.sessionToken: Expected number, actual a string of 10 characters",
        '  plugins[3].config.store: Expected "memory" | "redis", actual "disk"'
      ])
    }))

  it.scoped("reports checkConfig issues", () =>
    Effect.gen(function* () {
      events.length = 0
      const error = yield* Effect.flip(load("checking-plugin", { greeting: "hi" }))
      expect(error._tag).toBe("ConfigError")
      expect(error.message.split("\n").slice(1)).toEqual(["  plugins[3].config.greeting: Expected a file name in /etc."])
      expect(events).toEqual([])
    }))

  it.scoped("starts after checkConfig passes", () =>
    Effect.gen(function* () {
      events.length = 0
      yield* load("checking-plugin", { greeting: "hello.txt" }, "checked")
      expect(events).toEqual(["open:checked:hello.txt:2"])
    }))

  it.effect("checkPlugin runs checkConfig", () =>
    Effect.gen(function* () {
      const request = { packageName: "checking-plugin", instanceName: "checking-plugin", config: { greeting: "hi" }, yamlPath: ["providers", "x"] }
      const error = yield* Effect.flip(checkPlugin(request, options))
      expect(error._tag).toBe("ConfigError")
      expect(error.message.split("\n").slice(1)).toEqual(["  providers.x.config.greeting: Expected a file name in /etc."])
    }))

  it.scoped("numeric variable fills a string", () =>
    Effect.gen(function* () {
      // `greeting: ${GREETING}` with GREETING=007, as substitution leaves it.
      const request = {
        packageName: "example-plugin",
        instanceName: "example-plugin",
        config: { greeting: 7 },
        yamlPath: ["plugins", 0],
        converted: [{ path: ["greeting"], value: 7, text: "007" }]
      }

      yield* loadPlugin(request, options).pipe(Effect.provide(transport), Effect.provide(Logger.replace(Logger.defaultLogger, Logger.none)))

      expect(events).toContain("open:example-plugin:007:2")
    }))

  it.effect("checkConfig gets the model names", () =>
    Effect.gen(function* () {
      const check = (greeting: string) =>
        checkPlugin({ packageName: "routing-plugin", instanceName: "routing-plugin", config: { greeting }, yamlPath: ["plugins", 0] }, options)

      const error = yield* Effect.flip(check("slow"))

      expect(error.message.split("\n").slice(1)).toEqual(["  plugins[0].config.greeting: No route to 'slow'."])
      yield* check("fast")
      yield* check("openai/gpt-4o")
    }))

  it.scoped("reports a plugin whose layer fails", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(load("failing-plugin", { greeting: "x" }, "db-plugin"))
      expect(error._tag).toBe("PluginLoadError")
      expect(error.message.split("\n")[0]).toBe("plugins[3] (failing-plugin) failed to start: cannot connect")
    }))
})
