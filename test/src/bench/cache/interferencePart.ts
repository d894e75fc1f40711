/**
 * The interference part of the cache benchmark. It measures the latency of
 * pass-through requests at a fixed rate, alone and while semantic-cache
 * misses keep the embedder of the same Fluxen busy. It runs once with the
 * `onnx` embedder on worker threads and once with the `lexical` embedder on
 * the event loop. A control run sends the same misses to a Fluxen without
 * the semantic cache, which separates the cost of the added requests from
 * the cost of embedding them.
 */
import { stopFluxen, type FluxenServer } from "../targets.js"
import { startCacheFluxen, type SemanticSetup } from "./cacheTargets.js"
import type { CacheCaseResult, LoadSpec } from "./cases.js"
import type { EmbedderTimingResult } from "./childResults.js"
import { writeBenchModel } from "./benchModel.js"
import { compareInterference, type InterferenceComparison, type InterferenceSetup } from "./report.js"
import { backgroundMarginMs, measureCase, pacedConnections, paths, runTimingChild, type RunContext } from "./runContext.js"

export interface InterferenceRun {
  readonly model: { readonly layers: number; readonly dimensions: number; readonly bytes: number }
  readonly embedderTiming: EmbedderTimingResult | undefined
  readonly cases: Array<CacheCaseResult>
  readonly comparisons: Array<InterferenceComparison>
  /** Setups whose Fluxen logged an embedding failure or timeout during the run. */
  readonly embeddingWarnings: Array<InterferenceSetup>
}

/** The dimensions of the generated model's vectors: those of all-MiniLM-L6-v2. */
const modelDimensions = 384

export const runInterference = async (run: RunContext, modelDirectory: string): Promise<InterferenceRun> => {
  const { options } = run
  const bytes = writeBenchModel(modelDirectory, { dimensions: modelDimensions, layers: options.onnxLayers })
  console.log(`  Wrote an ONNX model of ${options.onnxLayers} layers and ${(bytes / 1_048_576).toFixed(1)} MiB.`)

  const timing = await runTimingChild(run, "embedder timing", "embedderTiming.js", { modelDirectory, samples: 200 }, 60_000)
  const embedderTiming = timing.results[0] as EmbedderTimingResult | undefined
  if (embedderTiming === undefined) {
    console.log(`  The embedder timing failed (${timing.status}). Its last output:\n${timing.output}`)
  }

  const passThrough: LoadSpec = {
    connections: pacedConnections,
    warmupMs: options.warmupMs,
    durationMs: options.durationMs,
    stream: false,
    body: "repeated",
    cacheControl: "no-store",
    ratePerSecond: options.passThroughRate
  }
  // The embedding load starts first and outlasts the pass-through case's warm-up and window.
  const embedLoad = (seed: number, ratePerSecond: number | undefined): LoadSpec => ({
    connections: ratePerSecond === undefined ? options.onnxWorkers : pacedConnections,
    warmupMs: options.warmupMs,
    durationMs: options.warmupMs + options.durationMs + backgroundMarginMs,
    stream: false,
    body: "unique",
    seed,
    ...(ratePerSecond === undefined ? {} : { ratePerSecond })
  })

  const cases: Array<CacheCaseResult> = []
  const embeddingWarnings: Array<InterferenceSetup> = []
  const measureSetup = async (setup: InterferenceSetup, semantic: SemanticSetup | undefined, background: LoadSpec) => {
    const fluxen: FluxenServer = await startCacheFluxen(paths, {
      cpus: run.pinning.proxyCpus,
      upstreamUrl: run.mock.url,
      semantic,
      nodeArguments: options.fluxenNodeFlags
    })
    try {
      const measured: Array<[string, LoadSpec | undefined]> = [
        [`${setup}: pass-through alone`, undefined],
        [`${setup}: pass-through with miss load`, background],
        [`${setup}: pass-through alone, after`, undefined]
      ]
      for (const [name, load] of measured) cases.push(await measureCase(run, fluxen, name, passThrough, load))
      if (/Embedding a user turn failed/.test(fluxen.child.recentOutput())) embeddingWarnings.push(setup)
    } finally {
      await stopFluxen(fluxen)
    }
  }

  await measureSetup("onnx", { embedder: "onnx", modelDirectory, workers: options.onnxWorkers }, embedLoad(1_001, options.embedRate))
  // The other setups get as many misses per second as the onnx one, so that they differ only in where, or whether, the embedding runs.
  const onnxMissRate = cases.find((result) => result.background !== undefined)?.background?.requestsPerSecond
  const missRate = options.embedRate ?? (onnxMissRate === undefined || onnxMissRate < 1 ? undefined : Math.round(onnxMissRate))
  if (missRate === undefined) {
    console.log("  The onnx setup completed no semantic-cache misses, so the lexical and control setups are skipped.")
  } else {
    await measureSetup("lexical", { embedder: "lexical" }, embedLoad(1_002, missRate))
    await measureSetup("no semantic cache", undefined, embedLoad(1_003, missRate))
  }

  return {
    model: { layers: options.onnxLayers, dimensions: modelDimensions, bytes },
    embedderTiming,
    cases,
    comparisons: compareInterference(cases),
    embeddingWarnings
  }
}
