/** The index part of the cache benchmark: semantic lookups timed in a child process (indexTiming.ts). */
import type { GrowthTimingResult, IndexTimingResult } from "./childResults.js"
import { runTimingChild, type RunContext } from "./runContext.js"

export interface IndexRun {
  /** Search and insertion times while one partition fills, or undefined when the child failed before measuring them. */
  readonly growth: GrowthTimingResult | undefined
  readonly results: Array<IndexTimingResult>
  /** Sizes requested but not measured, because the child failed or ran out of time. */
  readonly missingSizes: Array<number>
}

export const runIndex = async (run: RunContext): Promise<IndexRun> => {
  const { options } = run
  const argument = {
    sizes: options.indexSizes,
    queries: options.indexQueries,
    ...(options.efConstruction === undefined ? {} : { efConstruction: options.efConstruction })
  }
  const timing = await runTimingChild(run, "index timing", "indexTiming.js", argument, options.indexTimeLimitMs)
  const growth = timing.results.find((result) => typeof result === "object" && result !== null && "windows" in result) as
    | GrowthTimingResult
    | undefined
  const results = timing.results.filter((result) => typeof result === "object" && result !== null && "queryTimings" in result) as Array<IndexTimingResult>
  const missingSizes = options.indexSizes.filter((size) => !results.some((result) => result.entries === size))
  if (missingSizes.length > 0) {
    console.log(
      `  The index timing stopped (${timing.status}) before measuring ${missingSizes.join(", ")} vectors. ` +
        "Raise --index-time-limit or lower --ef-construction. Its last output:\n" +
        timing.output
    )
  }
  for (const result of results) {
    console.log(`  ${result.entries} vectors: built in ${(result.buildCpuMs / 1000).toFixed(1)} s of CPU with efConstruction ${result.efConstruction}`)
  }
  return { growth, results, missingSizes }
}
