/**
 * An embedder that needs no model: the text's words and character trigrams
 * hashed into a fixed number of buckets (feature hashing), then
 * L2-normalized.
 *
 * Before hashing, the text is NFKC-normalized and lower-cased, and every run
 * of characters that are neither letters nor digits becomes one space. Two
 * texts that differ only in casing, punctuation or spacing therefore get the
 * same vector (similarity 1). Texts that share most words and spellings score
 * high, and a paraphrase with other words scores low: this embedder measures
 * spelling, not meaning.
 */
import { Effect } from "effect"
import { normalizeInPlace, type Embedder } from "./Embedder.js"

export const DEFAULT_LEXICAL_DIMENSIONS = 512

/** The weight of a word relative to one of its trigrams; words carry more meaning than character runs. */
const WORD_WEIGHT = 2

/** Returns the text as the embedder reads it: NFKC, lower case, words separated by single spaces. */
export const lexicalNormalize = (text: string): string =>
  text
    .normalize("NFKC")
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, " ")
    .trim()

/** FNV-1a over the UTF-16 code units of `text`, as an unsigned 32-bit integer. */
export const fnv1a = (text: string, seed: number): number => {
  let hash = 0x811c9dc5 ^ seed
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return hash >>> 0
}

/**
 * Adds `weight` to the bucket of `feature`, with a sign from a second hash
 * so that collisions cancel out on average instead of adding up.
 */
const addFeature = (vector: Float32Array, feature: string, weight: number): void => {
  const hash = fnv1a(feature, 0)
  const bucket = hash % vector.length
  const sign = (fnv1a(feature, 0x5bd1e995) & 1) === 0 ? 1 : -1
  vector[bucket] = vector[bucket]! + sign * weight
}

/** Returns the L2-normalized feature vector of `text`; all zeros when the text has no letter or digit. */
export const lexicalVector = (text: string, dimensions: number): Float32Array => {
  const vector = new Float32Array(dimensions)
  const normalized = lexicalNormalize(text)
  if (normalized === "") return vector

  for (const word of normalized.split(" ")) {
    addFeature(vector, `w:${word}`, WORD_WEIGHT)
    // Trigrams of the word padded with spaces, so that its first and last letters count too.
    const padded = ` ${word} `
    for (let i = 0; i + 3 <= padded.length; i++) addFeature(vector, `c:${padded.slice(i, i + 3)}`, 1)
  }
  return normalizeInPlace(vector)
}

/** Makes the lexical embedder. It runs on the calling thread, because hashing a user turn costs far less than a worker round trip. */
export const makeLexicalEmbedder = (options: { readonly dimensions: number }): Embedder => ({
  kind: "lexical",
  id: `lexical:v1:${options.dimensions}`,
  embed: (texts) => Effect.sync(() => texts.map((text) => lexicalVector(text, options.dimensions))),
  synchronous: true,
  ignoresWordOrder: true
})
