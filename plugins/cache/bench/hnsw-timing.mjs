// Measures the semantic index (src/semantic/Hnsw.ts) against an exact scan of
// every vector with the same dot-product kernel (`HnswIndex.scan`): build
// time, recall@1 and mean lookup time, on random unit vectors of
// 384 dimensions. Queries are stored vectors with noise added (cosine about
// 0.9 to their source), as paraphrases are to a cached question, and, for
// comparison, fresh random vectors.
//
// Run from the repository root after `npx tsc -b plugins/cache`:
//   node plugins/cache/bench/hnsw-timing.mjs [entries ...]
// The default sizes are 10000 and 100000. HNSW_M and HNSW_EF_CONSTRUCTION
// override the index's defaults, and HNSW_EF_SEARCH takes a comma-separated
// list of search widths to compare on one build. The build time is printed
// as wall time and as the process's CPU time, which differ on a loaded machine.
import { performance } from "node:perf_hooks"
import { HnswIndex } from "../dist/semantic/Hnsw.js"

const DIMENSIONS = 384
const QUERIES = 200

// A seeded generator (mulberry32), so that runs are comparable.
const seeded = (seed) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

const gaussian = (random) => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random())

const normalize = (vector) => {
  let norm = 0
  for (const value of vector) norm += value * value
  norm = Math.sqrt(norm)
  for (let i = 0; i < vector.length; i++) vector[i] /= norm
  return vector
}

const randomUnit = (random) => normalize(Float32Array.from({ length: DIMENSIONS }, () => gaussian(random)))

const nearDuplicate = (source, random) => {
  const noise = randomUnit(random)
  return normalize(source.map((value, i) => value + 0.48 * noise[i]))
}

const storedVector = (all, slot) => all.slice(slot * DIMENSIONS, (slot + 1) * DIMENSIONS)

const measure = (entries) => {
  const random = seeded(entries)
  const all = new Float32Array(entries * DIMENSIONS)
  for (let i = 0; i < entries; i++) all.set(randomUnit(random), i * DIMENSIONS)

  // exactSearchLimit 0 makes every search use the graph, whatever the size.
  const options = { dimensions: DIMENSIONS, random: seeded(7), initialCapacity: entries, exactSearchLimit: 0 }
  if (process.env.HNSW_M !== undefined) options.m = Number(process.env.HNSW_M)
  if (process.env.HNSW_EF_CONSTRUCTION !== undefined) options.efConstruction = Number(process.env.HNSW_EF_CONSTRUCTION)
  const index = new HnswIndex(options)
  const buildStarted = performance.now()
  const cpuStarted = process.cpuUsage()
  for (let i = 0; i < entries; i++) index.add(all.subarray(i * DIMENSIONS, (i + 1) * DIMENSIONS))
  const buildMs = performance.now() - buildStarted
  const cpu = process.cpuUsage(cpuStarted)
  const buildCpuMs = (cpu.user + cpu.system) / 1000
  console.log(
    `${entries} entries: build ${(buildMs / 1000).toFixed(1)} s wall, ${(buildCpuMs / 1000).toFixed(1)} s CPU ` +
      `(m ${index.m}, efConstruction ${index.efConstruction})`
  )
  const widths = (process.env.HNSW_EF_SEARCH ?? String(index.efSearch)).split(",").map(Number)

  for (const kind of ["near-duplicate", "random"]) {
    const queryRandom = seeded(entries + 1)
    const queries = Array.from({ length: QUERIES }, () =>
      kind === "random" ? randomUnit(queryRandom) : nearDuplicate(storedVector(all, Math.floor(queryRandom() * entries)), queryRandom)
    )
    let scanMs = 0
    const expected = queries.map((query) => {
      const started = performance.now()
      const slot = index.scan(query, 1)[0]?.slot
      scanMs += performance.now() - started
      return slot
    })
    for (const ef of widths) {
      let hnswMs = 0
      let agreed = 0
      for (const [i, query] of queries.entries()) {
        const started = performance.now()
        const [found] = index.search(query, 1, ef)
        hnswMs += performance.now() - started
        if (found?.slot === expected[i]) agreed++
      }
      console.log(
        `${entries} entries, ${kind} queries, efSearch ${ef}: recall@1 ${(agreed / QUERIES).toFixed(3)}, ` +
          `HNSW ${(hnswMs / QUERIES).toFixed(3)} ms, exact scan ${(scanMs / QUERIES).toFixed(3)} ms per lookup`
      )
    }
  }
}

const sizes = process.argv.length > 2 ? process.argv.slice(2).map(Number) : [10_000, 100_000]
for (const size of sizes) measure(size)
