import { describe, expect, it } from "@effect/vitest"
import { Either, Redacted, Schema } from "effect"
import { issuesFromParseError } from "./ConfigError.js"
import { parseConfig } from "./loadConfig.js"

const parse = (text: string, env: Record<string, string> = {}) => parseConfig(text, { source: "fluxen.yaml", directory: "/srv", env })

const minimal = `
providers:
  openai:
    use: "@fluxen/provider-openai"
`

describe("parseConfig", () => {
  it("applies defaults", () => {
    const loaded = Either.getOrThrow(parse(minimal))
    expect(loaded.config.server).toEqual({ host: "127.0.0.1", port: 8080, bodyLimit: 4 * 1_048_576, shutdownTimeout: 30_000 })
    expect(loaded.config.upstream.idleTimeout).toBe(120_000)
    expect(loaded.config.models).toEqual({})
    expect(loaded.config.plugins).toEqual([])
  })

  it("reads units for durations and sizes", () => {
    const loaded = Either.getOrThrow(parse(`${minimal}
server:
  bodyLimit: 512 KiB
  shutdownTimeout: 2 minutes
upstream:
  idleTimeout: 1500
`))
    expect(loaded.config.server.bodyLimit).toBe(512 * 1024)
    expect(loaded.config.server.shutdownTimeout).toBe(120_000)
    expect(loaded.config.upstream.idleTimeout).toBe(1500)
  })

  it.each([
    ["insertTimeout", 30_000],
    ["queryTimeout", 10_000]
  ] as const)("reads the usage %s", (key, defaultMs) => {
    expect(Either.getOrThrow(parse(minimal)).config.usage[key]).toBe(defaultMs)
    expect(Either.getOrThrow(parse(`${minimal}\nusage:\n  ${key}: 5 seconds\n`)).config.usage[key]).toBe(5_000)
    const message = Either.getOrThrow(Either.flip(parse(`${minimal}\nusage:\n  ${key}: 0\n`))).message
    expect(message).toContain(`usage.${key}`)
    expect(message).toContain("at least 1 millisecond")
  })

  const tooLong = "Expected a duration of at most 2147483647 milliseconds (about 24.8 days, the longest a timer can wait)"

  it.each(["insertTimeout", "queryTimeout"] as const)("rejects an endless usage %s", (key) => {
    expect(Either.getOrThrow(parse(`${minimal}\nusage:\n  ${key}: 2147483647\n`)).config.usage[key]).toBe(2_147_483_647)

    for (const value of ["2147483648", "30 days", ".inf"]) {
      const error = Either.getOrThrow(Either.flip(parse(`${minimal}\nusage:\n  ${key}: ${value}\n`)))
      expect(error.issues, value).toEqual([{ path: `usage.${key}`, message: tooLong }])
    }
  })

  // Each duration key that must be at least 1 ms, as its path and a YAML document setting it to VALUE.
  const timerKeys: ReadonlyArray<readonly [string, string]> = [
    ["usage.flushInterval", "usage: { flushInterval: VALUE }"],
    ["upstream.idleTimeout", "upstream: { idleTimeout: VALUE }"],
    ["upstream.connectTimeout", "upstream: { connectTimeout: VALUE }"],
    ["upstream.keepAlive", "upstream: { keepAlive: VALUE }"],
    ["providers.openai.idleTimeout", "providers: { openai: { use: x, idleTimeout: VALUE } }"],
    ["models.m.idleTimeout", "models: { m: { provider: openai, idleTimeout: VALUE } }"],
    ["models.m.deployments[0].idleTimeout", "models: { m: { deployments: [{ provider: openai, idleTimeout: VALUE }] } }"],
    ["routing.cooldown.window", "routing: { cooldown: { window: VALUE } }"],
    ["routing.cooldown.duration", "routing: { cooldown: { duration: VALUE } }"],
    ["plugins[0].timeout", "plugins: [{ use: x, timeout: VALUE }]"]
  ]

  /** Parses `document` with VALUE replaced, adding the provider that the other keys refer to unless it sets its own. */
  const parseWith = (document: string, value: string) => {
    const text = document.replace("VALUE", value)
    return parse(text.startsWith("providers:") ? text : `${minimal}\n${text}\n`)
  }

  it.each(timerKeys)("bounds the timer %s", (path, document) => {
    expect(Either.isRight(parseWith(document, "1")), "1 ms").toBe(true)
    expect(Either.isRight(parseWith(document, "2147483647")), "2147483647 ms").toBe(true)

    for (const value of ["0", "0.5", "-1 second", ".nan"]) {
      expect(Either.getOrThrow(Either.flip(parseWith(document, value))).issues, value).toEqual([
        { path, message: "Expected a duration of at least 1 millisecond" }
      ])
    }
    for (const value of ["2147483648", "25 days", ".inf"]) {
      expect(Either.getOrThrow(Either.flip(parseWith(document, value))).issues, value).toEqual([{ path, message: tooLong }])
    }
  })

  // Keys where 0 skips the wait: retries follow at once, and shutdown closes in-flight requests at once.
  const zeroKeys: ReadonlyArray<readonly [string, string]> = [
    ["server.shutdownTimeout", "server: { shutdownTimeout: VALUE }"],
    ["routing.retry.initialDelay", "routing: { retry: { initialDelay: VALUE } }"],
    ["routing.retry.maxDelay", "routing: { retry: { maxDelay: VALUE } }"],
    ["models.m.retry.maxDelay", "models: { m: { provider: openai, retry: { maxDelay: VALUE } } }"]
  ]

  it.each(zeroKeys)("accepts zero for %s", (path, document) => {
    expect(Either.isRight(parseWith(document, "0")), "0 ms").toBe(true)
    expect(Either.isRight(parseWith(document, "2147483647")), "2147483647 ms").toBe(true)

    for (const value of ["-1", "-5 seconds", ".nan", "-.inf"]) {
      expect(Either.getOrThrow(Either.flip(parseWith(document, value))).issues, value).toEqual([
        { path, message: "Expected a duration of at least 0 milliseconds" }
      ])
    }
    for (const value of ["2147483648", ".inf"]) {
      expect(Either.getOrThrow(Either.flip(parseWith(document, value))).issues, value).toEqual([{ path, message: tooLong }])
    }
  })

  it("substitutes environment variables with defaults", () => {
    const loaded = Either.getOrThrow(parse(`
server:
  port: \${PORT:-9090}
  host: \${HOST}
usage:
  databaseUrl: \${DATABASE_URL:-}
providers:
  openai:
    use: "@fluxen/provider-openai"
    config:
      apiKey: "key-\${SUFFIX}"
      literal: "$\${NOT_A_VARIABLE}"
`, { HOST: "0.0.0.0", SUFFIX: "abc" }))
    expect(loaded.config.server.port).toBe(9090)
    expect(loaded.config.server.host).toBe("0.0.0.0")
    expect(Redacted.value(loaded.config.usage.databaseUrl!)).toBe("")
    expect(loaded.config.providers.openai!.config).toEqual({ apiKey: "key-abc", literal: "${NOT_A_VARIABLE}" })
  })

  it("numeric variable fills a string field", () => {
    const loaded = Either.getOrThrow(parse(`${minimal}
admin:
  key: \${ADMIN_KEY}
`, { ADMIN_KEY: "0123456789012345" }))

    expect(Redacted.value(loaded.config.admin!.key)).toBe("0123456789012345")
  })

  it("names a missing variable and its path", () => {
    const error = Either.flip(parse(`${minimal}
usage:
  databaseUrl: \${DATABASE_URL}
`))
    const message = Either.getOrThrow(error).message
    expect(message).toContain("usage.databaseUrl")
    expect(message).toContain("DATABASE_URL is not set")
  })

  it("names every bad value with its YAML path", () => {
    const message = Either.getOrThrow(Either.flip(parse(`
server:
  port: 70000
  bodyLimit: lots
providers:
  openai:
    use: "@fluxen/provider-openai"
models:
  gpt-4o:
    provider: anthropic
plugins:
  - use: "@fluxen/analyzer"
    failMode: maybe
`))).message
    expect(message).toContain("server.port")
    expect(message).toContain("server.bodyLimit")
    expect(message).toContain("plugins[0].failMode")
  })

  it("checks references when the schema fails", () => {
    const message = Either.getOrThrow(Either.flip(parse(`${minimal}
usage:
  flushInterval: 1 fortnight
models:
  claude:
    provider: anthropic
  broken:
    provider: openai
    colour: blue
  mini:
    alias: missing
`))).message
    expect(message).toContain("usage.flushInterval")
    expect(message).toContain("models.claude.provider: Unknown provider 'anthropic'")
    expect(message).toContain("models.broken.colour")
    expect(message).toContain("models.mini.alias: Unknown model 'missing'")
    expect(message).toContain("set provider and model instead")
  })

  it("omits problems of unset variables", () => {
    const message = Either.getOrThrow(Either.flip(parse(`${minimal}
server:
  port: \${FLUXEN_PORT}
models:
  claude:
    provider: anthropic
`))).message
    const lines = message.split("\n").slice(1)
    expect(lines).toEqual([
      "  server.port: The environment variable FLUXEN_PORT is not set; set it, or write ${FLUXEN_PORT:-default}.",
      "  models.claude.provider: Unknown provider 'anthropic'. Declared providers: openai."
    ])
  })

  it("names a restart on reload", () => {
    const text = `${minimal}\nusage:\n  databaseUrl: \${DATABASE_URL}\n`
    const reloaded = parseConfig(text, { source: "fluxen.yaml", directory: "/srv", env: {}, reload: true })
    const message = Either.getOrThrow(Either.flip(reloaded)).message
    expect(message).toContain("DATABASE_URL is not set in the environment Fluxen started with")
    expect(message).toContain("Restart Fluxen with DATABASE_URL set, or write ${DATABASE_URL:-default}.")
    expect(message).not.toContain("set it")
  })

  it("rejects a model whose provider is not declared", () => {
    const message = Either.getOrThrow(Either.flip(parse(`${minimal}
models:
  claude:
    provider: anthropic
`))).message
    expect(message).toContain("models.claude.provider")
    expect(message).toContain("Unknown provider 'anthropic'")
  })

  it("rejects unknown keys and broken YAML", () => {
    expect(Either.getOrThrow(Either.flip(parse(`${minimal}\nsevrer:\n  port: 1\n`))).message).toContain("sevrer")
    expect(Either.isLeft(parse("providers: [unclosed"))).toBe(true)
  })

  it("rejects two plugin instances with one name", () => {
    const message = Either.getOrThrow(Either.flip(parse(`${minimal}
plugins:
  - use: "@fluxen/analyzer"
  - use: "@fluxen/analyzer"
`))).message
    expect(message).toContain("plugins[1].name")
  })
})

describe("config error messages", () => {
  const messageOf = (text: string) => Either.getOrThrow(Either.flip(parse(text))).message

  it("lists each bad value once", () => {
    const message = messageOf(`${minimal}
server:
  port: 99999
  hots: example.com
logging:
  level: loud
`)
    const lines = message.split("\n").slice(1)
    expect(lines).toEqual([
      '  server.hots: Unknown key. Allowed keys: "host" | "port" | "bodyLimit" | "shutdownTimeout"',
      "  server.port: Expected a number between 0 and 65535, actual 99999",
      '  logging.level: Expected "debug" | "info" | "warning" | "error", actual "loud"'
    ])
  })

  it("shows values of plain fields", () => {
    const message = messageOf(`${minimal}
server:
  bodyLimit: 4MiBs
plugins:
  - use: "@fluxen/analyzer"
    failMode: sometimes
`)
    expect(message).toContain('server.bodyLimit: Expected a size such as 1048576 (bytes) or "4 MiB", got "4MiBs"')
    expect(message).toContain('plugins[0].failMode: Expected "open" | "closed", actual "sometimes"')
  })

  it("hides values of secret fields", () => {
    const message = messageOf(`${minimal}
usage:
  databaseUrl: [postgres://fluxen:hunter2@db/fluxen]
admin:
  key: 1234567890123456
`)
    expect(message).toContain("usage.databaseUrl: Expected string, actual a list")
    expect(message).toContain("admin.key: must be a string")
    expect(message).not.toContain("hunter2")
    expect(message).not.toContain("1234567890123456")
  })

  it("hides mappings printed whole", () => {
    const message = messageOf(`${minimal}
plugins:
  policy:
    use: "@fluxen/policy"
    config:
      masterKey: fx-master-hunter2
      keys: [{ key: fx-virtual-hunter3 }]
`)
    expect(message).toContain("plugins: Expected ReadonlyArray")
    expect(message).toContain("actual a mapping of 1 entry")
    expect(message).not.toContain("hunter2")
    expect(message).not.toContain("hunter3")
  })

  it("blank secret field: plain message", () => {
    // A plugin's apiKey has Effect's default message, unlike admin.key.
    const decoded = Schema.decodeUnknownEither(Schema.Struct({ apiKey: Schema.Redacted(Schema.String) }))({ apiKey: null })
    if (decoded._tag === "Right") throw new Error("Expected the blank key to be rejected")

    const [issue] = issuesFromParseError(decoded.left.issue, ["plugins", 0, "config"], (path) => path.join("."))

    expect(issue?.path).toBe("plugins.0.config.apiKey")
    expect(issue?.message).toContain("actual null")
    expect(issue?.message).not.toContain("an object")
  })

  it("hides passwords in URLs", () => {
    const message = messageOf(`${minimal}
logging:
  format: redis://cache:hunter2@redis:6379
`)
    expect(message).toContain("redis://cache:***@redis:6379")
    expect(message).not.toContain("hunter2")
  })
})
