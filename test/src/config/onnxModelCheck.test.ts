/**
 * The semantic cache's `onnx` model directory, checked by `fluxen
 * check-config` and `fluxen start` as a configuration problem, before any
 * plugin starts. The relative path resolves against the directory of the
 * configuration file, as the plugin resolves it at run time, so the
 * commands run from another working directory.
 */
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as Path from "node:path"
import { writeTestModel } from "@fluxen/cache/testing/onnx"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { cli, runStart } from "../support/runStart.js"

const SETTING = "plugins[0].config.semantic.embedder.modelDirectory"

const configText = `server: { host: 127.0.0.1, port: 0 }
usage: { sqlitePath: ./usage.db }
providers:
  openai:
    use: "@fluxen/provider-openai"
    config: { authStyle: none }
plugins:
  - use: "@fluxen/cache"
    config:
      semantic:
        enabled: true
        embedder:
          type: onnx
          modelDirectory: models/minilm
          workers: 1
`

const root = mkdtempSync(Path.join(tmpdir(), "fluxen-model-check-"))
// Another directory than the configuration file's, so that a path resolved against it would miss.
const workingDirectory = mkdtempSync(Path.join(tmpdir(), "fluxen-model-check-cwd-"))

afterAll(() => {
  rmSync(root, { recursive: true, force: true })
  rmSync(workingDirectory, { recursive: true, force: true })
})

/** Writes the configuration into a new directory under the test root and returns the file's and the model's paths. */
const configIn = (name: string): { readonly configPath: string; readonly modelDirectory: string } => {
  const directory = Path.join(root, name)
  mkdirSync(directory)
  writeFileSync(Path.join(directory, "fluxen.yaml"), configText)
  return { configPath: Path.join(directory, "fluxen.yaml"), modelDirectory: Path.join(directory, "models", "minilm") }
}

const checkConfig = (configPath: string) =>
  spawnSync(process.execPath, [cli, "check-config", configPath], { cwd: workingDirectory, encoding: "utf8", timeout: 60_000 })

/** Returns the report's lines after its heading. */
const issueLines = (stderr: string): Array<string> => stderr.trim().split("\n").slice(1).map((line) => line.trim())

describe("check-config onnx model directory", () => {
  it("reports a missing directory", () => {
    const { configPath, modelDirectory } = configIn("missing")

    const result = checkConfig(configPath)

    expect(result.status).toBe(1)
    const lines = issueLines(result.stderr)
    expect(lines).toHaveLength(1)
    expect(lines[0]).toContain(`${SETTING}: The model directory ${modelDirectory} does not exist.`)
  })

  it("reports a missing tokenizer.json", () => {
    const { configPath, modelDirectory } = configIn("no-tokenizer")
    mkdirSync(Path.join(modelDirectory, "onnx"), { recursive: true })
    writeFileSync(Path.join(modelDirectory, "onnx", "model.onnx"), "")

    const result = checkConfig(configPath)

    expect(result.status).toBe(1)
    const lines = issueLines(result.stderr)
    expect(lines).toHaveLength(1)
    expect(lines[0]).toContain(`${SETTING}: No tokenizer.json was found in ${modelDirectory}.`)
  })

  it("reports a missing model.onnx", () => {
    const { configPath, modelDirectory } = configIn("no-model")
    mkdirSync(modelDirectory, { recursive: true })
    writeFileSync(Path.join(modelDirectory, "tokenizer.json"), "{}")

    const result = checkConfig(configPath)

    expect(result.status).toBe(1)
    expect(issueLines(result.stderr)).toEqual([
      `${SETTING}: No model.onnx or onnx/model.onnx was found in ${modelDirectory}. Export the model to ONNX into that directory.`
    ])
  })

  it("accepts a complete directory", () => {
    const { configPath, modelDirectory } = configIn("complete")
    writeTestModel({ dimensions: 8, directory: modelDirectory })

    const result = checkConfig(configPath)

    expect(result.stderr).toBe("")
    expect(result.status).toBe(0)
    expect(result.stdout).toContain("is valid")
  })
})

describe("fluxen start with a missing tokenizer", () => {
  let directory: string
  let configPath: string
  let started: { status: number | null; output: string }

  beforeAll(async () => {
    const written = configIn("start")
    configPath = written.configPath
    directory = Path.dirname(configPath)
    mkdirSync(written.modelDirectory, { recursive: true })
    writeFileSync(Path.join(written.modelDirectory, "model.onnx"), "")
    started = await runStart(configPath, workingDirectory)
  })

  it("exits with the config problem", () => {
    expect(started.status).toBe(1)
    const lines = issueLines(started.output)
    expect(lines).toHaveLength(1)
    expect(lines[0]).toContain(`${SETTING}: No tokenizer.json was found in`)
  })

  it("prints check-config's report", () => {
    expect(started.output).toBe(checkConfig(configPath).stderr)
  })

  it("creates no usage database", () => {
    expect(existsSync(Path.join(directory, "usage.db"))).toBe(false)
  })
})
