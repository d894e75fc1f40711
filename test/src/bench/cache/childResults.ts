/**
 * The results that the timing children (embedderTiming.ts, indexTiming.ts)
 * print for run.ts, each as one line that starts with {@link resultMarker}.
 */
import type { LatencySummary } from "../protocol.js"

/** The prefix of the one output line that carries a child's JSON result. */
export const resultMarker = "RESULT "

/** Tokens per input that the benchmark's Fluxen configuration allows: the plugin's default. */
export const benchMaxTokens = 256

export interface EmbedderTiming {
  /** Milliseconds per embedding of one user turn. */
  readonly latency: LatencySummary
  /** The highest cosine similarity between two of the embedded turns. */
  readonly maxSimilarity: number
}

export interface EmbedderTimingResult {
  readonly onnx: EmbedderTiming & {
    /** Mean tokens per user turn, `[CLS]` and `[SEP]` included. */
    readonly meanTokens: number
    readonly dimensions: number
  }
  readonly lexical: EmbedderTiming
}

/** Lookup times and recall of one kind of query. */
export interface QueryTiming {
  /** `near-duplicate`: a stored vector with noise added, at a cosine of about 0.9 to it. `random`: a new random unit vector. */
  readonly kind: "near-duplicate" | "random"
  readonly queries: number
  /** Milliseconds per graph search, as the plugin searches a partition above `exactSearchLimit` vectors. */
  readonly graph: LatencySummary
  /** Milliseconds per exact scan of every vector, as the plugin searches a partition of up to `exactSearchLimit` vectors. */
  readonly scan: LatencySummary
  /** Share of queries whose graph search found the scan's best vector first. */
  readonly recallAt1: number
}

/** Mean times per miss while one partition fills from `fromEntries` to `toEntries` vectors. */
export interface GrowthWindow {
  readonly fromEntries: number
  readonly toEntries: number
  /** Milliseconds per search of the partition before the insertion. */
  readonly searchMeanMs: number
  /** Milliseconds per insertion, graph linking included. */
  readonly addMeanMs: number
}

/** What indexing misses costs the event loop: a `VectorIndex` with the plugin's defaults, filled one miss at a time. */
export interface GrowthTimingResult {
  readonly dimensions: number
  readonly windows: ReadonlyArray<GrowthWindow>
}

export interface IndexTimingResult {
  readonly entries: number
  readonly dimensions: number
  readonly m: number
  readonly efConstruction: number
  readonly efSearch: number
  /** Results the plugin requests per search (`VectorIndex` looks at the top few to skip expired entries). */
  readonly k: number
  /** The index scans every vector up to this many live vectors and searches the graph above it. */
  readonly exactSearchLimit: number
  readonly buildWallMs: number
  /** CPU time of the build, in milliseconds. It is below the wall time when other processes shared the CPU. */
  readonly buildCpuMs: number
  readonly queryTimings: ReadonlyArray<QueryTiming>
}
