/**
 * The request bodies of the cache benchmark. The repeated request is the main
 * benchmark's plain or streamed chat completion (`../workloads.ts`), so a
 * cache hit returns the same recorded response the mock upstream sends. The
 * unique requests keep that body and replace the user turn with a question
 * made of random words, so that each one misses both the exact and the
 * semantic cache.
 */
import { workloads } from "../workloads.js"

/** Words of the generated user turns. The benchmark's ONNX vocabulary contains each as one token. */
export const sentenceWords: ReadonlyArray<string> = (
  "how what why when where which who can could should would does do is are was the a an of in on for to with from by about " +
  "train flight hotel museum beach river mountain city village market bridge castle garden lake island desert forest harbour " +
  "ticket price weather season festival dinner breakfast guide map route border visa passport luggage taxi bus ferry bike " +
  "cheap quiet busy famous old new best safest fastest longest early late open closed local " +
  "book cancel visit reach cross rent pack find compare recommend avoid photograph explore " +
  "spring summer autumn winter morning evening night weekend holiday family children students couples"
).split(" ")

/** A mulberry32 generator, so that a run's user turns are reproducible. */
export const seededRandom = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

/** Number of random words in a generated user turn. With the sequence number and `[CLS]`/`[SEP]`, a turn is about 17 tokens. */
const wordsPerTurn = 12

/** Returns a question of random words that ends with `sequence`, so that no two turns of one run are equal. */
export const uniqueUserTurn = (random: () => number, sequence: number): string => {
  const words = Array.from({ length: wordsPerTurn }, () => sentenceWords[Math.floor(random() * sentenceWords.length)]!)
  return `${words.join(" ")} ${sequence}?`
}

interface ChatBody {
  messages: Array<{ role: string; content: string }>
  [field: string]: unknown
}

const plainTemplate = JSON.parse(workloads.plain.requestBody.toString("utf8")) as ChatBody
const streamTemplate = JSON.parse(workloads.stream.requestBody.toString("utf8")) as ChatBody

/** Returns the main benchmark's chat request, plain or streamed. */
export const repeatedBody = (stream: boolean): Buffer => (stream ? workloads.stream.requestBody : workloads.plain.requestBody)

/** Returns the main benchmark's chat request with `userTurn` as its latest user message. */
export const bodyWithUserTurn = (stream: boolean, userTurn: string): Buffer => {
  const template = stream ? streamTemplate : plainTemplate
  const messages = template.messages.map((message, index) =>
    index === template.messages.length - 1 ? { ...message, content: userTurn } : message
  )
  return Buffer.from(JSON.stringify({ ...template, messages }))
}
