import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as Path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { cli, runStart } from "../support/runStart.js"

const unreachableServerPlugin = fileURLToPath(new URL("../../dist/support/unreachableServerPlugin.js", import.meta.url))

const invalidSections = `server: { host: 127.0.0.1, port: 0 }
usage: { sqlitePath: ./usage.db }
providers:
  openai:
    use: "@fluxen/provider-openai"
    config: { colour: blue }
plugins:
  - use: "@fluxen/analyzer"
    config:
      colour: blue
  - use: "@fluxen/policy"
    config:
      masterKey: short
`

// Out-of-range durations, which must stop the start before anything is created: .inf is infinity
// in YAML, and 30 days is past the 24.8 days that a timer can wait. A flush interval of 0 fails the
// usage writer's own check after the database is opened, and ioredis throws on a connect timeout of
// .inf outside any handler, which ends the process, so the schema has to reject both.
const outOfRangeDurations = [
  {
    name: "endless usage timeouts",
    config: `server: { host: 127.0.0.1, port: 0 }
usage: { sqlitePath: ./usage.db, insertTimeout: .inf, queryTimeout: 30 days }
providers:
  openai:
    use: "@fluxen/provider-openai"
plugins: []
`,
    paths: ["usage.insertTimeout", "usage.queryTimeout"]
  },
  {
    name: "a zero flush interval",
    config: `server: { host: 127.0.0.1, port: 0 }
usage: { sqlitePath: ./usage.db, flushInterval: 0 }
providers:
  openai:
    use: "@fluxen/provider-openai"
plugins: []
`,
    paths: ["usage.flushInterval"]
  },
  {
    name: "an endless Redis connect timeout",
    config: `server: { host: 127.0.0.1, port: 0 }
usage: { sqlitePath: ./usage.db }
providers:
  openai:
    use: "@fluxen/provider-openai"
plugins:
  - use: "@fluxen/cache"
    config: { store: redis, redis: { url: "redis://127.0.0.1:6379", connectTimeout: .inf } }
`,
    paths: ["plugins[0].config.redis.connectTimeout"]
  }
]

const apiKey = "sk-acme-0123456789abcdef"
const urlPassword = "hunter2-pass"

const failingPlugin = (level: string) => `server: { host: 127.0.0.1, port: 0 }
usage: { sqlitePath: ./usage.db }
logging: { level: ${level} }
providers:
  openai:
    use: "@fluxen/provider-openai"
    config: { authStyle: none }
plugins:
  - use: "@fluxen/analyzer"
  - use: "@acme/guard"
    config:
      url: "http://guard:${urlPassword}@127.0.0.1:9/check"
      apiKey: "${apiKey}"
`

/** Installs the test plugin as the third-party package `@acme/guard` next to the configuration file. */
const installGuardPackage = (directory: string) => {
  const packageDirectory = Path.join(directory, "node_modules", "@acme", "guard")
  mkdirSync(packageDirectory, { recursive: true })
  const manifest = { name: "@acme/guard", version: "1.0.0", type: "module", main: "index.js" }
  writeFileSync(Path.join(packageDirectory, "package.json"), JSON.stringify(manifest))
  writeFileSync(Path.join(packageDirectory, "index.js"), `export { default } from ${JSON.stringify(pathToFileURL(unreachableServerPlugin).href)}\n`)
}

describe("fluxen start with an invalid file", () => {
  let directory: string
  let configPath: string
  let started: { status: number | null; output: string }

  beforeAll(async () => {
    directory = mkdtempSync(Path.join(tmpdir(), "fluxen-invalid-"))
    configPath = Path.join(directory, "fluxen.yaml")
    writeFileSync(configPath, invalidSections)
    started = await runStart(configPath, directory)
  })

  afterAll(() => rmSync(directory, { recursive: true, force: true }))

  it("exits with status 1", () => {
    expect(started.status).toBe(1)
  })

  it("lists every invalid section", () => {
    const paths = started.output.trim().split("\n").slice(1).map((line) => line.trim().split(":")[0])
    expect(paths).toEqual(["providers.openai.config.colour", "plugins[0].config.colour", "plugins[1].config.masterKey"])
  })

  it("prints check-config's report", () => {
    const checked = spawnSync(process.execPath, [cli, "check-config", configPath], { cwd: directory, encoding: "utf8", timeout: 60_000 })
    expect(started.output).toBe(checked.stderr)
  })

  it("creates no usage database", () => {
    expect(existsSync(Path.join(directory, "usage.db"))).toBe(false)
  })
})

describe.each(outOfRangeDurations)("fluxen start with $name", ({ config, paths }) => {
  let directory: string
  let configPath: string
  let started: { status: number | null; output: string }

  beforeAll(async () => {
    directory = mkdtempSync(Path.join(tmpdir(), "fluxen-durations-"))
    configPath = Path.join(directory, "fluxen.yaml")
    writeFileSync(configPath, config)
    started = await runStart(configPath, directory)
  })

  afterAll(() => rmSync(directory, { recursive: true, force: true }))

  it("exits with status 1", () => {
    expect(started.status).toBe(1)
  })

  it("names each duration once", () => {
    const named = started.output.trim().split("\n").slice(1).map((line) => line.trim().split(":")[0])
    expect(named).toEqual(paths)
  })

  it("prints check-config's report", () => {
    const checked = spawnSync(process.execPath, [cli, "check-config", configPath], { cwd: directory, encoding: "utf8", timeout: 60_000 })
    expect(checked.status).toBe(1)
    expect(started.output).toBe(checked.stderr)
  })

  it("creates no usage database", () => {
    expect(existsSync(Path.join(directory, "usage.db"))).toBe(false)
  })
})

describe("fluxen start with a failing plugin", () => {
  let directory: string

  beforeAll(() => {
    directory = mkdtempSync(Path.join(tmpdir(), "fluxen-plugin-start-"))
    installGuardPackage(directory)
  })

  afterAll(() => rmSync(directory, { recursive: true, force: true }))

  const start = (level: string) => {
    const configPath = Path.join(directory, `fluxen-${level}.yaml`)
    writeFileSync(configPath, failingPlugin(level))
    return runStart(configPath, directory)
  }

  it("names the entry and its package", async () => {
    const { status, output } = await start("info")
    expect(status).toBe(1)
    const lines = output.trim().split("\n").filter((line) => !line.startsWith("timestamp="))
    expect(lines[0]).toBe(
      "plugins[1] (@acme/guard) failed to start: connect ECONNREFUSED: http://guard:***@127.0.0.1:9/check rejected the key ***"
    )
    expect(lines[1]).toContain("Check its config section and that the services it connects to are reachable.")
    expect(lines).toHaveLength(2)
    expect(output).not.toContain("level=ERROR")
  })

  it("hides the plugin's secrets", async () => {
    const { output } = await start("info")
    expect(output).not.toContain(apiKey)
    expect(output).not.toContain(urlPassword)
  })

  it("logs the stack only at debug", async () => {
    const info = await start("info")
    const debug = await start("debug")
    expect(info.output).not.toMatch(/\bat .*unreachableServerPlugin\.js/)
    expect(debug.output).toMatch(/\bat .*unreachableServerPlugin\.js/)
    expect(debug.output).toContain('message="Plugin failed to start"')
    expect(debug.output).not.toContain(apiKey)
    expect(debug.output).not.toContain(urlPassword)
  })
})
