/**
 * Times lookups in the semantic cache's index (`HnswIndex` from
 * `@fluxen/cache`), run by run.ts as a child process on the proxy's CPU:
 *
 *   node indexTiming.js '{"sizes":[10000,100000],"queries":500}'
 *
 * For each size it fills one index with random unit vectors of 384
 * dimensions, the size of all-MiniLM-L6-v2's vectors, as one partition of
 * the cache would hold them. It then runs each query twice: through the
 * HNSW graph with the plugin's default width, and as an exact scan of every
 * vector with the same dot-product kernel. The scan's best vector is the
 * truth for recall@1. Options `efConstruction` and `m` override the index
 * defaults. Before the sizes, it times what indexing misses costs while a
 * partition fills up to 5,000 vectors. It prints one line `RESULT <json>`
 * per measurement, so that the ones finished before a time limit are kept.
 */
import { HnswIndex, VectorIndex } from "@fluxen/cache"
import { summarizeLatencies } from "../latency.js"
import { resultMarker, type GrowthTimingResult, type GrowthWindow, type IndexTimingResult, type QueryTiming } from "./childResults.js"
import { seededRandom } from "./requests.js"

const dimensions = 384
/** Matches what `VectorIndex.search` requests from a partition's index. */
const resultsPerSearch = 4
/** Noise weight that puts a near-duplicate query at a cosine of about 0.9 to its source. */
const nearDuplicateNoise = 0.48
const warmupQueries = 20
/** Vectors per window, and windows, of the growth timing. */
const growthWindowEntries = 1_000
const growthWindows = 5

interface IndexTimingOptions {
  readonly sizes: ReadonlyArray<number>
  readonly queries: number
  readonly efConstruction?: number
  readonly m?: number
}

const parseOptions = (text: string | undefined): IndexTimingOptions => {
  const options = JSON.parse(text ?? "null") as Partial<IndexTimingOptions> | null
  const isPositiveInteger = (value: unknown) => typeof value === "number" && Number.isInteger(value) && value > 0
  if (
    options === null ||
    !Array.isArray(options.sizes) ||
    !options.sizes.every(isPositiveInteger) ||
    !isPositiveInteger(options.queries) ||
    (options.efConstruction !== undefined && !isPositiveInteger(options.efConstruction)) ||
    (options.m !== undefined && !isPositiveInteger(options.m))
  ) {
    throw new Error(`Invalid index timing options: ${text}. Expected {sizes: [N, …], queries: N, efConstruction?: N, m?: N}.`)
  }
  return options as IndexTimingOptions
}

const gaussian = (random: () => number) => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random())

const normalize = (vector: Float32Array): Float32Array => {
  let norm = 0
  for (const value of vector) norm += value * value
  norm = Math.sqrt(norm)
  for (let i = 0; i < vector.length; i++) vector[i] = vector[i]! / norm
  return vector
}

const randomUnitVector = (random: () => number): Float32Array => {
  const vector = new Float32Array(dimensions)
  for (let i = 0; i < dimensions; i++) vector[i] = gaussian(random)
  return normalize(vector)
}

const nearDuplicateOf = (source: Float32Array, random: () => number): Float32Array => {
  const noise = randomUnitVector(random)
  return normalize(source.map((value, i) => value + nearDuplicateNoise * noise[i]!))
}

const timeQueries = (index: HnswIndex, kind: QueryTiming["kind"], queries: ReadonlyArray<Float32Array>): QueryTiming => {
  const graphTimes = new Float64Array(queries.length)
  const scanTimes = new Float64Array(queries.length)
  // Untimed first searches, so that the timed ones run optimized code.
  for (const query of queries.slice(0, warmupQueries)) {
    index.scan(query, resultsPerSearch)
    index.search(query, resultsPerSearch)
  }
  let agreed = 0
  for (const [i, query] of queries.entries()) {
    let started = performance.now()
    const truth = index.scan(query, resultsPerSearch)[0]?.slot
    scanTimes[i] = performance.now() - started

    started = performance.now()
    const found = index.search(query, resultsPerSearch)[0]?.slot
    graphTimes[i] = performance.now() - started
    if (found !== undefined && found === truth) agreed++
  }
  return {
    kind,
    queries: queries.length,
    graph: summarizeLatencies(graphTimes),
    scan: summarizeLatencies(scanTimes),
    recallAt1: agreed / queries.length
  }
}

const measureSize = (entries: number, options: IndexTimingOptions): IndexTimingResult => {
  const random = seededRandom(entries)
  const vectors = Array.from({ length: entries }, () => randomUnitVector(random))

  // exactSearchLimit 0 makes `search` use the graph at every size. At or below the default limit, the plugin's path is `scan`.
  const defaults = new HnswIndex({ dimensions: 1 })
  const exactSearchLimit = defaults.exactSearchLimit
  defaults.dispose()
  const index = new HnswIndex({
    dimensions,
    initialCapacity: entries,
    exactSearchLimit: 0,
    random: seededRandom(7),
    ...(options.efConstruction === undefined ? {} : { efConstruction: options.efConstruction }),
    ...(options.m === undefined ? {} : { m: options.m })
  })

  const wallStarted = performance.now()
  const cpuStarted = process.cpuUsage()
  for (const vector of vectors) index.add(vector)
  const buildWallMs = performance.now() - wallStarted
  const cpu = process.cpuUsage(cpuStarted)
  console.log(`Built the index of ${entries} vectors in ${(buildWallMs / 1000).toFixed(1)} s (efConstruction ${index.efConstruction}).`)

  const queryRandom = seededRandom(entries + 1)
  const nearDuplicates = Array.from({ length: options.queries }, () =>
    nearDuplicateOf(vectors[Math.floor(queryRandom() * entries)]!, queryRandom)
  )
  const randomQueries = Array.from({ length: options.queries }, () => randomUnitVector(queryRandom))
  const queryTimings = [timeQueries(index, "near-duplicate", nearDuplicates), timeQueries(index, "random", randomQueries)]
  index.dispose()

  return {
    entries,
    dimensions,
    m: index.m,
    efConstruction: index.efConstruction,
    efSearch: index.efSearch,
    k: resultsPerSearch,
    exactSearchLimit,
    buildWallMs,
    buildCpuMs: (cpu.user + cpu.system) / 1000,
    queryTimings
  }
}

/**
 * Fills one partition of a `VectorIndex`, built as the plugin builds it, the
 * way semantic-cache misses do: each miss searches the partition and then
 * inserts its vector. Up to the index's exact-search limit a search scans
 * every vector, but each insertion still links the new vector into the graph.
 */
const measureGrowth = (): GrowthTimingResult => {
  const random = seededRandom(3)
  const index = new VectorIndex({ maxEntries: growthWindowEntries * growthWindows })
  const expiresAt = Date.now() + 3_600_000
  const windows: Array<GrowthWindow> = []
  for (let window = 0; window < growthWindows; window++) {
    let searchMs = 0
    let addMs = 0
    for (let i = 0; i < growthWindowEntries; i++) {
      const vector = randomUnitVector(random)
      let started = performance.now()
      index.search("partition", vector, Date.now())
      searchMs += performance.now() - started

      started = performance.now()
      index.add({ id: `entry-${window * growthWindowEntries + i}`, partition: "partition", vector, expiresAt })
      addMs += performance.now() - started
    }
    windows.push({
      fromEntries: window * growthWindowEntries,
      toEntries: (window + 1) * growthWindowEntries,
      searchMeanMs: searchMs / growthWindowEntries,
      addMeanMs: addMs / growthWindowEntries
    })
  }
  return { dimensions, windows }
}

const options = parseOptions(process.argv[2])
console.log(`${resultMarker}${JSON.stringify(measureGrowth())}`)
for (const size of options.sizes) {
  console.log(`${resultMarker}${JSON.stringify(measureSize(size, options))}`)
}
