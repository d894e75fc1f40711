/**
 * Times one embedding of a generated user turn with the cache plugin's own
 * embedders, run by run.ts as a child process on the proxy's CPU:
 *
 *   node embedderTiming.js '{"modelDirectory":"/tmp/…","samples":200}'
 *
 * The `onnx` embedder runs the benchmark model on one worker thread, and the
 * time runs from posting the text to receiving the vector, which is how long
 * a request waits for it in the gateway. The `lexical` embedder runs on the
 * calling thread. Both report the highest cosine similarity between two
 * different turns, which must stay below the semantic threshold for the
 * embedding load to miss. It prints one line, `RESULT <json>`, and exits.
 */
import { readFileSync } from "node:fs"
import * as Path from "node:path"
import { makeLexicalEmbedder, makeOnnxEmbedder, makeWordPieceTokenizer, type Embedder } from "@fluxen/cache"
import { Effect } from "effect"
import { summarizeLatencies } from "../latency.js"
import { benchMaxTokens, resultMarker, type EmbedderTimingResult } from "./childResults.js"
import { seededRandom, uniqueUserTurn } from "./requests.js"

const options = JSON.parse(process.argv[2] ?? "null") as { modelDirectory?: unknown; samples?: unknown } | null
if (options === null || typeof options.modelDirectory !== "string" || !Number.isInteger(options.samples) || (options.samples as number) < 2) {
  console.error(`Invalid options: ${process.argv[2]}. Expected {"modelDirectory": PATH, "samples": N of at least 2}.`)
  process.exit(2)
}
const modelDirectory = options.modelDirectory
const samples = options.samples as number

// A different seed from the load generators', so that the turns are not the ones the run sends later.
const random = seededRandom(991)
const turns = Array.from({ length: samples }, (_, sequence) => uniqueUserTurn(random, sequence))

const maxPairSimilarity = (vectors: ReadonlyArray<Float32Array>): number => {
  let max = -1
  for (let first = 0; first < vectors.length; first++) {
    for (let second = first + 1; second < vectors.length; second++) {
      let dot = 0
      const a = vectors[first]!
      const b = vectors[second]!
      for (let i = 0; i < a.length; i++) dot += a[i]! * b[i]!
      max = Math.max(max, dot)
    }
  }
  return max
}

/** Embeds every turn one at a time, after five untimed calls, and returns the times and vectors. */
const timeEmbedder = (embedder: Embedder) =>
  Effect.gen(function* () {
    for (const turn of turns.slice(0, 5)) yield* embedder.embed([turn])
    const times = new Float64Array(turns.length)
    const vectors: Array<Float32Array> = []
    for (const [index, turn] of turns.entries()) {
      const started = performance.now()
      const [vector] = yield* embedder.embed([turn])
      times[index] = performance.now() - started
      vectors.push(vector!)
    }
    return { latency: summarizeLatencies(times), maxSimilarity: maxPairSimilarity(vectors) }
  })

const tokenizer = makeWordPieceTokenizer(JSON.parse(readFileSync(Path.join(modelDirectory, "tokenizer.json"), "utf8")))
const meanTokens = turns.reduce((sum, turn) => sum + tokenizer.encode(turn, benchMaxTokens).ids.length, 0) / turns.length

const result: EmbedderTimingResult = await Effect.runPromise(
  Effect.scoped(
    Effect.gen(function* () {
      const onnx = yield* makeOnnxEmbedder({ modelDirectory, maxTokens: benchMaxTokens, workers: 1, threadsPerWorker: 1 })
      const onnxTiming = yield* timeEmbedder(onnx)
      const lexicalTiming = yield* timeEmbedder(makeLexicalEmbedder({ dimensions: 512 }))
      return { onnx: { ...onnxTiming, meanTokens, dimensions: onnx.dimensions }, lexical: lexicalTiming }
    })
  )
)
console.log(`${resultMarker}${JSON.stringify(result)}`)
