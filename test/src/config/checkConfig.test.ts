import { spawnSync } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const repository = fileURLToPath(new URL("../../../", import.meta.url))
const cli = Path.join(repository, "runtime", "dist", "bin", "fluxen.js")
const exampleConfig = Path.join(repository, "config", "fluxen.yaml")

const checkConfig = (env: Record<string, string>, file = exampleConfig) =>
  spawnSync(process.execPath, [cli, "check-config", file], { env: { ...process.env, ...env }, encoding: "utf8", timeout: 60_000 })

const checkText = (text: string) => {
  const directory = mkdtempSync(Path.join(tmpdir(), "fluxen-check-"))
  try {
    writeFileSync(Path.join(directory, "fluxen.yaml"), text)
    return { directory, result: checkConfig({}, Path.join(directory, "fluxen.yaml")) }
  } finally {
    rmSync(directory, { recursive: true, force: true })
  }
}

const tooLong = "Expected a duration of at most 2147483647 milliseconds (about 24.8 days, the longest a timer can wait)"

describe("fluxen check-config", () => {
  it("accepts the example configuration", () => {
    const result = checkConfig({})
    expect(result.status).toBe(0)
    expect(result.stdout).toContain("is valid")
  })

  it("missing file: names the example", () => {
    const result = checkConfig({}, Path.join(tmpdir(), "fluxen-no-such-dir", "fluxen.yaml"))

    expect(result.status).toBe(1)
    expect(result.stderr).toContain("The file does not exist")
    expect(result.stderr).toContain("config/fluxen.yaml")
    expect(result.stderr).not.toContain("ENOENT")
  })

  it("runs through npm run fluxen", () => {
    // README.md and config/fluxen.yaml give this command, because npm ci puts no `fluxen` on the PATH.
    const result = spawnSync("npm", ["run", "--silent", "fluxen", "--", "check-config", "config/fluxen.yaml"], {
      cwd: repository,
      encoding: "utf8",
      timeout: 120_000
    })
    expect(result.stderr).not.toContain("Missing script")
    expect(result.status).toBe(0)
    expect(result.stdout).toContain("config/fluxen.yaml is valid.")
  }, 120_000)

  it("checks plugin sections with the plugin's schema", () => {
    const result = checkConfig({ FLUXEN_CACHE_STORE: "disk" })
    expect(result.status).toBe(1)
    expect(result.stderr).toContain('plugins[1].config.store: Expected "memory" | "redis", actual "disk"')
    expect(result.stderr.match(/plugins\[1\]\.config\.store/g)).toHaveLength(1)
  })

  it("lists every missing plugin", () => {
    const { directory, result } = checkText(`providers:
  openai:
    use: "@fluxen/provider-openai"
plugins:
  - use: "@fluxen/analyzer"
  - use: "@fluxen/not-installed"
  - use: "@fluxen/also-missing"
`)
    expect(result.status).toBe(1)
    const lines = result.stderr.trim().split("\n").slice(1)
    expect(lines).toHaveLength(2)
    expect(lines[0]).toContain("plugins[1].use: The package '@fluxen/not-installed' is not installed")
    expect(lines[0]).toContain(`next to the configuration file (${directory})`)
    expect(lines[0]).toContain("in the working directory")
    expect(lines[0]).toContain("among Fluxen's own dependencies")
    expect(lines[1]).toContain("plugins[2].use: The package '@fluxen/also-missing' is not installed")
  })

  it("rejects endless usage timeouts", () => {
    const { result } = checkText(`usage:
  insertTimeout: .inf
  queryTimeout: 30 days
providers:
  openai:
    use: "@fluxen/provider-openai"
`)
    expect(result.status).toBe(1)
    expect(result.stderr.trim().split("\n").slice(1)).toEqual([`  usage.insertTimeout: ${tooLong}`, `  usage.queryTimeout: ${tooLong}`])
  })

  it("rejects out-of-range durations", () => {
    const { result } = checkText(`server: { shutdownTimeout: -1 }
usage: { flushInterval: 0 }
upstream: { idleTimeout: 0, connectTimeout: .inf, keepAlive: 30 days }
providers:
  openai:
    use: "@fluxen/provider-openai"
plugins:
  - use: "@fluxen/analyzer"
    timeout: .inf
  - use: "@fluxen/cache"
    config:
      store: redis
      ttl: .inf
      redis: { url: "redis://127.0.0.1:6379", connectTimeout: .inf, commandTimeout: 0 }
  - use: "@fluxen/otel"
    config: { batch: { interval: .inf } }
  - use: "@fluxen/forecaster"
    config: { checkInterval: 0 }
  - use: "@fluxen/policy"
    config: { keyCacheTtlSeconds: .inf, redis: { url: "redis://127.0.0.1:6379", commandTimeoutMs: 2147483648 } }
`)
    const tooShort = "Expected a duration of at least 1 millisecond"

    expect(result.status).toBe(1)
    expect(result.stderr.trim().split("\n").slice(1)).toEqual([
      "  server.shutdownTimeout: Expected a duration of at least 0 milliseconds",
      `  usage.flushInterval: ${tooShort}`,
      `  upstream.idleTimeout: ${tooShort}`,
      `  upstream.connectTimeout: ${tooLong}`,
      `  upstream.keepAlive: ${tooLong}`,
      `  plugins[0].timeout: ${tooLong}`,
      `  plugins[1].config.redis.connectTimeout: ${tooLong}`,
      `  plugins[1].config.redis.commandTimeout: ${tooShort}`,
      "  plugins[1].config.ttl: Expected a duration of at most 315360000000 milliseconds (10 years)",
      `  plugins[2].config.batch.interval: ${tooLong}`,
      `  plugins[3].config.checkInterval: ${tooShort}`,
      "  plugins[4].config.keyCacheTtlSeconds: Expected a finite number, actual Infinity",
      "  plugins[4].config.redis.commandTimeoutMs: Expected a whole number of milliseconds from 1 to 2147483647 (about 24.8 days, the longest a timer can wait)"
    ])
  })

  it("plugin without SDK: names the fix", () => {
    // A plugin installed beside fluxen.yaml with npm's --legacy-peer-deps has no @fluxen/sdk to import.
    const directory = mkdtempSync(Path.join(tmpdir(), "fluxen-check-"))
    try {
      const packageDirectory = Path.join(directory, "node_modules", "@acme", "fluxen-lonely")
      mkdirSync(packageDirectory, { recursive: true })
      writeFileSync(
        Path.join(packageDirectory, "package.json"),
        JSON.stringify({ name: "@acme/fluxen-lonely", version: "1.0.0", type: "module", exports: { ".": { default: "./index.js" } } })
      )
      writeFileSync(Path.join(packageDirectory, "index.js"), 'export { definePlugin as default } from "@fluxen/sdk"\n')
      writeFileSync(Path.join(directory, "fluxen.yaml"), 'providers: {}\nplugins:\n  - use: "@acme/fluxen-lonely"\n')

      const result = checkConfig({}, Path.join(directory, "fluxen.yaml"))

      expect(result.status).toBe(1)
      const lines = result.stderr.trim().split("\n").slice(1)
      expect(lines).toHaveLength(1)
      expect(lines[0]).toContain("plugins[0].use: The package '@acme/fluxen-lonely' failed to import")
      expect(lines[0]).toContain("cannot find its peer dependency '@fluxen/sdk'")
      expect(lines[0]).toContain("install it at the root of the Fluxen checkout")
    } finally {
      rmSync(directory, { recursive: true, force: true })
    }
  })

  it("route rule: rejects unknown models", () => {
    const { result } = checkText(`providers:
  openai:
    use: "@fluxen/provider-openai"
models:
  gpt-4o-mini:
    provider: openai
plugins:
  - use: "@fluxen/rules"
    config:
      rules:
        - { name: typo, when: "true", action: route, model: gpt-4o-mni }
        - { name: listed, when: "true", action: route, model: gpt-4o-mini }
        - { name: direct, when: "true", action: route, model: openai/gpt-4o }
`)
    expect(result.status).toBe(1)
    const lines = result.stderr.trim().split("\n").slice(1)
    expect(lines).toHaveLength(1)
    expect(lines[0]).toContain("plugins[0].config.rules[0].model: The model 'gpt-4o-mni' is neither under models:")
  })

  it("lists every problem in one run", () => {
    const { result } = checkText(`usage:
  flushInterval: 1 fortnight
providers:
  openai:
    use: "@fluxen/provider-openai"
models:
  claude:
    provider: anthropic
plugins:
  - use: "@fluxen/analyzer"
    config:
      colour: blue
  - use: "@fluxen/policy"
    config:
      masterKey: short
      shape: round
`)
    expect(result.status).toBe(1)
    const paths = result.stderr.trim().split("\n").slice(1).map((line) => line.trim().split(":")[0])
    expect(paths).toEqual([
      "usage.flushInterval",
      "models.claude.provider",
      "plugins[0].config.colour",
      "plugins[1].config.shape",
      "plugins[1].config.masterKey"
    ])
  })
})
