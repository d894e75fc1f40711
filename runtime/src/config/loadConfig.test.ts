import { describe, expect, it } from "@effect/vitest"
import { Either, Redacted } from "effect"
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
  it("never repeat a string value", () => {
    const message = Either.getOrThrow(Either.flip(parse(`${minimal}
plugins:
  - use: "@fluxen/analyzer"
    failMode: sk-secret-value-1234
`))).message
    expect(message).toContain("plugins[0].failMode")
    expect(message).toContain('"open"')
    expect(message).not.toContain("sk-secret-value-1234")
  })
})
