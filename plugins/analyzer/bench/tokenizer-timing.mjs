// Measures how long gpt-tokenizer takes to load its encodings and to count
// the tokens of English text of several sizes, on the machine it runs on.
// The text is every Markdown file under the repository's node_modules.
//
// Run from the repository root: node plugins/analyzer/bench/tokenizer-timing.mjs
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { performance } from "node:perf_hooks"

const nodeModules = new URL("../../../node_modules/", import.meta.url).pathname

const markdownFiles = (directory) => {
  const found = []
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name)
    if (entry.isDirectory()) found.push(...markdownFiles(path))
    else if (entry.isFile() && entry.name.endsWith(".md")) found.push(path)
  }
  return found
}

const corpus = markdownFiles(nodeModules).sort().map((path) => readFileSync(path, "utf8")).join("\n")

const loadStart = performance.now()
const o200k = (await import("gpt-tokenizer/encoding/o200k_base")).default
const o200kLoadMs = performance.now() - loadStart
const cl100kStart = performance.now()
await import("gpt-tokenizer/encoding/cl100k_base")
const cl100kLoadMs = performance.now() - cl100kStart
console.log(`corpus: ${corpus.length} characters`)
console.log(`load: o200k_base ${o200kLoadMs.toFixed(1)} ms, cl100k_base ${cl100kLoadMs.toFixed(1)} ms`)

const ordinaryText = { disallowedSpecial: new Set() }
let offset = 0

// Takes the next slice of the corpus, so repeated runs do not count the same text.
const nextSlice = (size) => {
  if (offset + size > corpus.length) offset = 0
  const text = corpus.slice(offset, offset + size)
  offset += size
  return text
}

for (const [size, runs] of [[1024, 200], [4096, 200], [8192, 200], [16384, 50], [262144, 6], [1048576, 3]]) {
  if (size > corpus.length) {
    console.log(`${size} characters: skipped, the corpus is shorter`)
    continue
  }
  const times = []
  for (let run = 0; run < runs; run++) {
    const text = nextSlice(size)
    const start = performance.now()
    o200k.countTokens(text, ordinaryText)
    times.push(performance.now() - start)
  }
  times.sort((a, b) => a - b)
  const median = times[Math.floor(times.length / 2)]
  const p95 = times[Math.floor(times.length * 0.95)]
  console.log(`${size} characters: median ${median.toFixed(3)} ms, p95 ${p95.toFixed(3)} ms (${runs} runs)`)
}
