/**
 * Checks that a semantic match must pass besides its similarity. Embedders
 * score two turns that differ only in a number or a negation as near
 * duplicates: "Refund order 48213" and "Refund order 48219" score 0.95 with
 * the lexical embedder, and sentence-embedding models are weak at numbers
 * too. A stored turn therefore matches only when these facts are the same:
 *
 * - its numbers, in order, as written: each run of digits with its decimal
 *   and group separators (`1,000.50`), and a minus sign placed before
 *   the digits and is not joined to a preceding word or number (`-5`);
 * - its negation words, counted: `not` (with `n't` and `cannot`), `no`,
 *   `never` and `without`.
 *
 * For embedders whose vectors ignore word order (`lexical`), the stored
 * turn's word hashes are kept too. A match then also needs the words both
 * turns share to come in the same order, so "buy or sell" does not match
 * "sell or buy". It also needs the turns not to differ by a prefixed
 * antonym: one turn has a word (`safe`) and the other, instead, that word
 * with `un`, `in`, `im`, `ir`, `il`, `dis` or `non` before it (`unsafe`).
 *
 * NOTE: these checks catch changed numbers, added or removed negation words,
 * swapped words (lexical only) and prefixed antonyms (lexical only). They do
 * not catch other antonyms ("good" and "bad", "create" and "delete"),
 * negation spelled without an apostrophe ("dont"), numbers written as words
 * ("five"), or any other change of meaning the embedder scores as similar.
 */
import { createHash } from "node:crypto"
import { fnv1a, lexicalNormalize } from "./LexicalEmbedder.js"

/** The facts a stored turn keeps for the checks. */
export interface TurnGuard {
  /** SHA-256 (64 hex digits) of the turn's numbers, in order, and its negation words, sorted. */
  readonly facts: string
  /** FNV-1a hashes of the turn's words in order, set only for embedders whose vectors ignore word order. */
  readonly words: Uint32Array | undefined
}

/** A run of digits with its separators, and a minus sign that no letter or digit precedes. */
const NUMBER = /(?:(?<![\p{L}\p{N}])-)?\p{Nd}+(?:[.,'\u2019]\p{Nd}+)*/gu

/** Negation words, and the form each is counted as, so that "can't" and "cannot" count alike. */
const NEGATIONS: ReadonlyMap<string, string> = new Map([
  ["not", "not"],
  ["cannot", "not"],
  ["no", "no"],
  ["never", "never"],
  ["without", "without"]
])

const ANTONYM_PREFIXES: ReadonlyArray<string> = ["un", "in", "im", "ir", "il", "dis", "non"]

/** Shorter stems are left alone, so that "into" is not read as "in" before "to". */
const MIN_ANTONYM_STEM = 3

/** Returns the numbers of a text in order, each as written. */
export const numbersOf = (text: string): Array<string> => text.normalize("NFKC").match(NUMBER) ?? []

/** Returns the negation words of a text, sorted, with "n't" and "cannot" as "not". */
export const negationsOf = (text: string): Array<string> => {
  const found: Array<string> = []
  const words = text.normalize("NFKC").toLowerCase().replace(/\u2019/g, "'").split(/[^\p{L}\p{N}']+/u)
  for (const word of words) {
    const negation = word.endsWith("n't") ? "not" : NEGATIONS.get(word)
    if (negation !== undefined) found.push(negation)
  }
  return found.sort()
}

const factsOf = (text: string): string =>
  createHash("sha256").update(JSON.stringify([numbersOf(text), negationsOf(text)])).digest("hex")

const hashWord = (word: string): number => fnv1a(word, 0)

/** Returns the words as the lexical embedder reads them. */
const wordsOf = (text: string): Array<string> => {
  const normalized = lexicalNormalize(text)
  return normalized === "" ? [] : normalized.split(" ")
}

/** Computes the guard of a turn, with its word hashes when `wordOrder` is true. */
export const guardOf = (text: string, wordOrder: boolean): TurnGuard => ({
  facts: factsOf(text),
  words: wordOrder ? Uint32Array.from(wordsOf(text), hashWord) : undefined
})

/** Returns the first occurrence of each hash that `other` contains, in order. */
const sharedInOrder = (hashes: ArrayLike<number>, other: ReadonlySet<number>): Array<number> => {
  const seen = new Set<number>()
  const shared: Array<number> = []
  for (let i = 0; i < hashes.length; i++) {
    const hash = hashes[i]!
    if (!other.has(hash) || seen.has(hash)) continue
    seen.add(hash)
    shared.push(hash)
  }
  return shared
}

const sameSharedOrder = (stored: Uint32Array, turn: ReadonlyArray<number>): boolean => {
  const storedOrder = sharedInOrder(stored, new Set(turn))
  const turnOrder = sharedInOrder(turn, new Set(stored))
  return storedOrder.every((hash, i) => hash === turnOrder[i])
}

/** Checks whether a stored word that the turn lacks is a word of the turn with an antonym prefix added or removed. */
const differsByAntonym = (stored: Uint32Array, turnWords: ReadonlyArray<string>, turnHashes: ReadonlySet<number>): boolean => {
  const onlyStored = new Set<number>()
  for (const hash of stored) if (!turnHashes.has(hash)) onlyStored.add(hash)
  if (onlyStored.size === 0) return false

  for (const word of turnWords) {
    for (const prefix of ANTONYM_PREFIXES) {
      if (word.length >= MIN_ANTONYM_STEM && onlyStored.has(hashWord(prefix + word))) return true
      if (word.length - prefix.length >= MIN_ANTONYM_STEM && word.startsWith(prefix) && onlyStored.has(hashWord(word.slice(prefix.length)))) return true
    }
  }
  return false
}

/**
 * Makes the check of one turn against stored turns. A stored turn without a
 * guard, written by a version of Fluxen that kept none, never passes.
 */
export const makeGuardCheck = (text: string, wordOrder: boolean): ((stored: TurnGuard | undefined) => boolean) => {
  const facts = factsOf(text)
  const words = wordOrder ? wordsOf(text) : []
  const hashes = words.map(hashWord)
  const hashSet = new Set(hashes)

  return (stored) => {
    if (stored === undefined || stored.facts !== facts) return false
    if (!wordOrder) return true
    if (stored.words === undefined) return false
    return sameSharedOrder(stored.words, hashes) && !differsByAntonym(stored.words, words, hashSet)
  }
}
