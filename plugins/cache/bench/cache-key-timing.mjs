// Measures the cost of one cache key (canonical JSON and SHA-256) for chat
// bodies of about 1 KB and 10 KB, on the machine it runs on.
//
// Run from the repository root after `npx tsc -b plugins/cache`:
//   node plugins/cache/bench/cache-key-timing.mjs
import { performance } from "node:perf_hooks"
import { cacheKeyOf } from "../dist/cacheKey.js"

const sentence = "Summarize the quarterly report and list the three largest cost drivers with their share of spend. "

const chatBody = (targetBytes) => {
  const messages = [{ role: "system", content: "You are a careful financial analyst. Answer in short bullet points." }]
  while (JSON.stringify(messages).length < targetBytes - 200) {
    messages.push({ role: messages.length % 2 === 1 ? "user" : "assistant", content: sentence.repeat(2) })
  }
  return { model: "gpt-4o-mini", messages, temperature: 0.2, max_tokens: 400, stream: true, user: "u-123" }
}

const measure = (request, iterations) => {
  const input = { namespace: "team:finance", endpoint: "chat", provider: "openai", upstreamModel: "gpt-4o-mini-2024-07-18", request }
  for (let i = 0; i < 2_000; i++) cacheKeyOf(input)
  const started = performance.now()
  for (let i = 0; i < iterations; i++) cacheKeyOf(input)
  return ((performance.now() - started) * 1_000) / iterations
}

for (const size of [1_024, 10_240]) {
  const request = chatBody(size)
  const microseconds = measure(request, 20_000)
  console.log(`${JSON.stringify(request).length} byte body: ${microseconds.toFixed(1)} µs per key`)
}
