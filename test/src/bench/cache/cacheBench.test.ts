import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as Path from "node:path"
import { CacheConfig, lexicalVector, makeOnnxEmbedder } from "@fluxen/cache"
import { parseConfig } from "@fluxen/runtime"
import { Effect, Either, Schema } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import type { LatencySummary } from "../protocol.js"
import { cacheFluxenConfig, type SemanticSetup } from "./cacheTargets.js"
import type { CacheLoadResult } from "./cacheLoadGenerator.js"
import type { CacheCaseResult } from "./cases.js"
import { writeBenchModel } from "./benchModel.js"
import { parseOptions } from "./options.js"
import { compareInterference, compareThroughput } from "./report.js"
import { bodyWithUserTurn, repeatedBody, seededRandom, uniqueUserTurn } from "./requests.js"

const temporaryDirectories: Array<string> = []
const temporaryDirectory = () => {
  const directory = mkdtempSync(Path.join(tmpdir(), "fluxen-cache-bench-test-"))
  temporaryDirectories.push(directory)
  return directory
}
afterAll(() => {
  for (const directory of temporaryDirectories) rmSync(directory, { recursive: true, force: true })
})

describe("cache bench options", () => {
  it("defaults to every part", () => {
    const options = parseOptions([])
    expect(options).not.toBe("help")
    if (options === "help") return
    expect(options.parts).toEqual(["throughput", "interference", "index"])
    expect(options.indexSizes).toEqual([10_000, 100_000])
    expect(options.efConstruction).toBeUndefined()
    expect(options.embedRate).toBeUndefined()
    expect(options.retries).toBe(1)
    expect(options.fluxenNodeFlags).toEqual([])
  })

  it("lets flags after --quick override it", () => {
    const options = parseOptions(["--duration", "6", "--quick"])
    if (options === "help") throw new Error("unexpected help")
    expect(options.durationMs).toBe(6_000)
    expect(options.warmupMs).toBe(1_000)
    expect(options.efConstruction).toBe(16)
  })

  it("splits Fluxen's Node options", () => {
    const options = parseOptions(["--fluxen-node-flags", "--single-threaded-gc  --max-semi-space-size=32"])
    if (options === "help") throw new Error("unexpected help")
    expect(options.fluxenNodeFlags).toEqual(["--single-threaded-gc", "--max-semi-space-size=32"])
  })

  it("rejects invalid values", () => {
    expect(() => parseOptions(["--parts", "throughput,speed"])).toThrow(/--parts/)
    expect(() => parseOptions(["--index-sizes", "10000,abc"])).toThrow(/--index-sizes/)
    expect(() => parseOptions(["--connections", "0"])).toThrow(/--connections/)
    expect(() => parseOptions(["--retries", "-1"])).toThrow(/--retries/)
    expect(() => parseOptions(["--proxy-cpus", "0"])).toThrow(/together/)
    expect(() => parseOptions(["--fast"])).toThrow(/Unknown option/)
    expect(() => parseOptions(["--fluxen-node-flags"])).toThrow(/--fluxen-node-flags/)
  })
})

describe("cache bench Fluxen configuration", () => {
  const setups: ReadonlyArray<SemanticSetup | undefined> = [
    undefined,
    { embedder: "lexical" },
    { embedder: "onnx", modelDirectory: "/tmp/model", workers: 2 }
  ]

  for (const semantic of setups) {
    it(`passes the config and plugin schemas (${semantic?.embedder ?? "exact only"})`, () => {
      const loaded = parseConfig(cacheFluxenConfig("http://127.0.0.1:9", semantic), { source: "bench", directory: "/tmp", env: {} })
      if (Either.isLeft(loaded)) throw new Error(loaded.left.message)
      const plugins = loaded.right.config.plugins
      expect(plugins.map((plugin) => plugin.use)).toEqual(["@fluxen/analyzer", "@fluxen/cache"])

      const decoded = Schema.decodeUnknownEither(CacheConfig, { onExcessProperty: "error" })(plugins[1]!.config)
      if (Either.isLeft(decoded)) throw new Error(decoded.left.message)
      expect(decoded.right.store).toBe("memory")
      expect(decoded.right.semantic?.enabled ?? false).toBe(semantic !== undefined)
      expect(decoded.right.semantic?.embedder.type).toBe(semantic?.embedder)
    })
  }
})

describe("cache bench requests", () => {
  it("changes only the latest user turn", () => {
    const repeated = JSON.parse(repeatedBody(true).toString("utf8"))
    const unique = JSON.parse(bodyWithUserTurn(true, "where is the best museum 7?").toString("utf8"))
    expect(unique.messages.at(-1)).toEqual({ role: "user", content: "where is the best museum 7?" })
    expect(unique.messages.slice(0, -1)).toEqual(repeated.messages.slice(0, -1))
    expect({ ...unique, messages: undefined }).toEqual({ ...repeated, messages: undefined })
  })

  it("generates turns far below the semantic threshold", () => {
    const random = seededRandom(5)
    const turns = Array.from({ length: 100 }, (_, sequence) => uniqueUserTurn(random, sequence))
    expect(new Set(turns).size).toBe(turns.length)
    const vectors = turns.map((turn) => lexicalVector(turn, 512))
    let maxSimilarity = -1
    for (let first = 0; first < vectors.length; first++) {
      for (let second = first + 1; second < vectors.length; second++) {
        const dot = vectors[first]!.reduce((sum, value, i) => sum + value * vectors[second]![i]!, 0)
        maxSimilarity = Math.max(maxSimilarity, dot)
      }
    }
    // The plugin's default threshold is 0.92.
    expect(maxSimilarity).toBeLessThan(0.8)
  })
})

describe("cache bench ONNX model", () => {
  it("loads in the plugin's onnx embedder", async () => {
    const directory = temporaryDirectory()
    writeBenchModel(directory, { dimensions: 16, layers: 2 })
    const vectors = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const embedder = yield* makeOnnxEmbedder({ modelDirectory: directory, maxTokens: 64, workers: 1, threadsPerWorker: 1 })
          return yield* embedder.embed(["how cheap is the ferry to the island 12?", "zzz unknown wordz"])
        })
      )
    )
    expect(vectors).toHaveLength(2)
    for (const vector of vectors) {
      expect(vector).toHaveLength(16)
      const norm = Math.sqrt(vector.reduce((sum, value) => sum + value * value, 0))
      expect(norm).toBeCloseTo(1, 5)
    }
    expect(vectors[0]).not.toEqual(vectors[1])
  })
})

describe("cache bench comparisons", () => {
  const latency = (p99: number): LatencySummary => ({ count: 100, mean: p99 / 2, p50: p99 / 2, p90: p99, p99, p999: p99, max: p99 })
  const caseResult = (name: string, requestsPerSecond: number, cpuMicrosPerRequest: number, p99 = 1): CacheCaseResult => ({
    name,
    spec: { connections: 1, warmupMs: 0, durationMs: 1_000, stream: false, body: "repeated" },
    load: { latency: latency(p99) } as CacheLoadResult,
    requestsPerSecond,
    fluxen: { pid: 1, cpuMicrosPerRequest, cpuPercent: 50 },
    clientCpuPercent: 10,
    otherCpuPercent: 0,
    stealPercent: 0,
    windowMicros: { start: 0, end: 1 },
    attempts: 1
  })

  it("divides hits by pass-through requests", () => {
    const comparisons = compareThroughput([
      caseResult("plain hit", 3_000, 200),
      caseResult("plain pass-through", 1_000, 500),
      caseResult("stream hit", 1_500, 400),
      caseResult("stream pass-through", 1_000, 500)
    ])
    expect(comparisons[0]).toEqual({ workload: "plain", throughputRatio: 3, meetsTarget: true, cpuPerRequestRatio: 0.4 })
    expect(comparisons[1]).toEqual({ workload: "stream", throughputRatio: 1.5, meetsTarget: false, cpuPerRequestRatio: 0.8 })
  })

  it("compares the loaded p99 with the mean of before and after", () => {
    const [onnx] = compareInterference([
      caseResult("onnx: pass-through alone", 200, 500, 4),
      caseResult("onnx: pass-through with miss load", 200, 500, 9),
      caseResult("onnx: pass-through alone, after", 200, 500, 8)
    ])
    expect(onnx).toEqual({ setup: "onnx", aloneP99Ms: 6, loadedP99Ms: 9, p99Ratio: 1.5, meetsTarget: true })
  })

  it("leaves out unmeasured setups", () => {
    const measured = compareInterference([caseResult("onnx: pass-through alone", 200, 500, 4)])
    expect(measured.map((entry) => entry.setup)).toEqual(["onnx"])
  })
})
