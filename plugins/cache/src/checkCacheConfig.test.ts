import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as Path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { Schema } from "effect"
import { CacheConfig } from "./CacheConfig.js"
import { checkCacheConfig } from "./checkCacheConfig.js"
import { writeTestModel } from "./testing/onnxModel.js"

const root = mkdtempSync(Path.join(tmpdir(), "fluxen-cache-check-"))

afterAll(() => rmSync(root, { recursive: true, force: true }))

const MODEL_PATH = ["semantic", "embedder", "modelDirectory"]

const onnxConfig = (modelDirectory: string, enabled = true): CacheConfig =>
  Schema.decodeUnknownSync(CacheConfig)({ semantic: { enabled, embedder: { type: "onnx", modelDirectory } } })

/** Creates a directory under the test root with the given files, each empty. */
const directoryWith = (name: string, files: ReadonlyArray<string>): string => {
  const directory = Path.join(root, name)
  mkdirSync(directory, { recursive: true })
  for (const file of files) {
    mkdirSync(Path.dirname(Path.join(directory, file)), { recursive: true })
    writeFileSync(Path.join(directory, file), "")
  }
  return directory
}

describe("checkCacheConfig", () => {
  it("accepts a written test model", () => {
    const model = writeTestModel({ dimensions: 8, directory: Path.join(root, "written") })
    expect(checkCacheConfig(onnxConfig(model.directory), { configDirectory: "/unused" })).toEqual([])
  })

  it("accepts onnx/model.onnx", () => {
    const directory = directoryWith("onnx-folder", ["onnx/model.onnx", "tokenizer.json"])
    expect(checkCacheConfig(onnxConfig(directory), { configDirectory: "/unused" })).toEqual([])
  })

  it("resolves against the config directory", () => {
    directoryWith("config/models/minilm", ["model.onnx", "tokenizer.json"])
    const configDirectory = Path.join(root, "config")

    expect(checkCacheConfig(onnxConfig("models/minilm"), { configDirectory })).toEqual([])
    expect(checkCacheConfig(onnxConfig("./models/minilm"), { configDirectory })).toEqual([])

    const issues = checkCacheConfig(onnxConfig("minilm"), { configDirectory })
    expect(issues).toHaveLength(1)
    expect(issues[0]!.message).toContain(`The model directory ${Path.join(configDirectory, "minilm")} does not exist`)
  })

  it("reports a missing directory", () => {
    const directory = Path.join(root, "no-such-model")
    const issues = checkCacheConfig(onnxConfig(directory), { configDirectory: "/unused" })

    expect(issues).toHaveLength(1)
    expect(issues[0]!.path).toEqual(MODEL_PATH)
    expect(issues[0]!.message).toContain(`The model directory ${directory} does not exist`)
  })

  it("reports a file as directory", () => {
    const directory = directoryWith("file-parent", ["model.onnx"])
    const file = Path.join(directory, "model.onnx")
    const issues = checkCacheConfig(onnxConfig(file), { configDirectory: "/unused" })

    expect(issues).toEqual([{ path: MODEL_PATH, message: `${file} is not a directory. Set the directory that contains the model's files.` }])
  })

  it("reports a missing model file", () => {
    const directory = directoryWith("tokenizer-only", ["tokenizer.json"])
    const issues = checkCacheConfig(onnxConfig(directory), { configDirectory: "/unused" })

    expect(issues).toHaveLength(1)
    expect(issues[0]!.path).toEqual(MODEL_PATH)
    expect(issues[0]!.message).toContain(`No model.onnx or onnx/model.onnx was found in ${directory}`)
  })

  it("reports a missing tokenizer.json", () => {
    const directory = directoryWith("model-only", ["onnx/model.onnx"])
    const issues = checkCacheConfig(onnxConfig(directory), { configDirectory: "/unused" })

    expect(issues).toHaveLength(1)
    expect(issues[0]!.path).toEqual(MODEL_PATH)
    expect(issues[0]!.message).toContain(`No tokenizer.json was found in ${directory}`)
  })

  it("reports both missing files", () => {
    // A directory named model.onnx is not a model file.
    const directory = directoryWith("empty", [])
    mkdirSync(Path.join(directory, "model.onnx"))
    const messages = checkCacheConfig(onnxConfig(directory), { configDirectory: "/unused" }).map((issue) => issue.message)

    expect(messages).toHaveLength(2)
    expect(messages[0]).toContain("No model.onnx or onnx/model.onnx was found")
    expect(messages[1]).toContain("No tokenizer.json was found")
  })

  it("skips a disabled semantic cache", () => {
    expect(checkCacheConfig(onnxConfig(Path.join(root, "no-such-model"), false), { configDirectory: "/unused" })).toEqual([])
  })

  it("skips other embedders", () => {
    const config = Schema.decodeUnknownSync(CacheConfig)({ semantic: { enabled: true, embedder: { type: "lexical" } } })
    expect(checkCacheConfig(config, { configDirectory: "/unused" })).toEqual([])
  })
})
