/**
 * Checks that README.md covers what the example configuration and the
 * gateway expose to a user: environment variables, npm scripts and error
 * codes. Its Quick start's configuration example and install advice must work.
 */
import { spawnSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { parse, stringify } from "yaml"

const repository = new URL("../../../", import.meta.url)
const cli = fileURLToPath(new URL("runtime/dist/bin/fluxen.js", repository))
const readme = readFileSync(new URL("README.md", repository), "utf8")
const exampleConfig = readFileSync(new URL("config/fluxen.yaml", repository), "utf8")
const scripts = (JSON.parse(readFileSync(new URL("package.json", repository), "utf8")) as { scripts: Record<string, string> }).scripts

/** Returns the text of the README section under `## title`, up to the next section. */
const section = (title: string): string => {
  const start = readme.indexOf(`\n## ${title}\n`)
  expect(start, `README.md has no section "## ${title}"`).toBeGreaterThanOrEqual(0)
  const end = readme.indexOf("\n## ", start + 1)
  return readme.slice(start, end === -1 ? undefined : end)
}

/** Error codes that the runtime and the bundled cache plugin return to clients. */
const errorCodes = [
  "invalid_json",
  "invalid_value",
  "unsupported_endpoint",
  "invalid_header",
  "invalid_admin_key",
  "model_not_found",
  "not_found",
  "method_not_allowed",
  "request_too_large",
  "upstream_unreachable",
  "upstream_invalid_response",
  "upstream_timeout",
  "plugin_failed",
  "internal_error"
]

/** Returns the contents of the YAML code blocks in Markdown text. */
const yamlBlocks = (text: string): Array<string> => [...text.matchAll(/```yaml\n([\s\S]*?)```/g)].map((match) => match[1]!)

type ConfigSections = Record<string, Record<string, unknown>>

/**
 * Runs onnxruntime-node's parser of its install flag in a child process, with
 * `env` in place of this process's onnxruntime variables, and returns the flag.
 * False means that the install script skips its download of CUDA libraries.
 */
const onnxruntimeInstallFlag = (env: Record<string, string>): unknown => {
  const installUtils = createRequire(import.meta.url).resolve("onnxruntime-node/script/install-utils.js")
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !/^(npm_config_onnxruntime|ONNXRUNTIME_NODE_INSTALL)/i.test(name))
  )
  const script = `process.stdout.write(JSON.stringify(require(${JSON.stringify(installUtils)}).parseInstallFlag() ?? null))`
  const result = spawnSync(process.execPath, ["-e", script], { env: { ...inherited, ...env }, encoding: "utf8", timeout: 30_000 })
  expect(result.stderr).toBe("")
  return JSON.parse(result.stdout)
}

describe("README.md", () => {
  it("documents the example's environment variables", () => {
    // Commented-out lines are optional examples, so only the variables of active lines must be documented.
    const activeLines = exampleConfig.split("\n").filter((line) => !line.trimStart().startsWith("#"))
    const variables = new Set(activeLines.flatMap((line) => [...line.matchAll(/\$\{([A-Z0-9_]+)/g)].map((match) => match[1]!)))

    expect(variables.size).toBeGreaterThan(0)
    for (const variable of variables) {
      expect(readme, `${variable} is read by config/fluxen.yaml`).toMatch(new RegExp(`\\b${variable}\\b`))
    }
  })

  it("lists the gateway's error codes", () => {
    const errors = section("Errors")

    for (const code of errorCodes) {
      expect(errors, code).toContain(`\`${code}\``)
    }
  })

  it("names only existing npm scripts", () => {
    const named = [readme, exampleConfig].flatMap((text) => [...text.matchAll(/npm run ([a-z][a-z0-9:-]*)/g)].map((match) => match[1]!))

    expect(named).toContain("fluxen")
    for (const name of named) {
      expect(Object.keys(scripts), `npm run ${name}`).toContain(name)
    }
  })

  it("Quick start's provider example passes check-config", () => {
    const blocks = yamlBlocks(section("Quick start"))
    expect(blocks).toHaveLength(1)
    const example = parse(blocks[0]!) as ConfigSections
    // The example adds entries to the sections of config/fluxen.yaml, so it is checked merged into a copy of it.
    const merged = parse(exampleConfig) as ConfigSections
    merged.providers = { ...merged.providers, ...example.providers }
    merged.models = { ...merged.models, ...example.models }
    const variables = [...blocks[0]!.matchAll(/\$\{([A-Z0-9_]+)\}/g)].map((match) => match[1]!)
    expect(variables.length).toBeGreaterThan(0)

    const directory = mkdtempSync(Path.join(tmpdir(), "fluxen-readme-"))
    try {
      const file = Path.join(directory, "fluxen.yaml")
      writeFileSync(file, stringify(merged))
      const env = Object.fromEntries(variables.map((name) => [name, "sk-readme-example"]))
      const result = spawnSync(process.execPath, [cli, "check-config", file], { env: { ...process.env, ...env }, encoding: "utf8", timeout: 60_000 })

      expect(result.stderr).toBe("")
      expect(result.status).toBe(0)
    } finally {
      rmSync(directory, { recursive: true, force: true })
    }
  })

  it("gives an install fallback that onnxruntime-node reads", () => {
    const npmrc = readFileSync(new URL(".npmrc", repository), "utf8")

    expect(npmrc).toMatch(/^onnxruntime-node-install=skip$/m)
    expect(section("Quick start")).toContain("`ONNXRUNTIME_NODE_INSTALL=skip npm ci`")
    // npm passes a project config key to install scripts as npm_config_<key>.
    expect(onnxruntimeInstallFlag({ npm_config_onnxruntime_node_install: "skip" })).toBe(false)
    expect(onnxruntimeInstallFlag({ ONNXRUNTIME_NODE_INSTALL: "skip" })).toBe(false)
    expect(onnxruntimeInstallFlag({})).not.toBe(false)
  })
})
