import { describe, expect, it } from "vitest"
import { testTokenizerJson } from "../testing/onnxModel.js"
import { makeWordPieceTokenizer } from "./WordPieceTokenizer.js"

const tokenizer = makeWordPieceTokenizer(testTokenizerJson(64))

describe("WordPiece tokenizer", () => {
  it("adds [CLS] and [SEP] and lower-cases", () => {
    const encoding = tokenizer.encode("What is the CAPITAL of France?", 32)

    expect(encoding.tokens).toEqual(["[CLS]", "what", "is", "the", "capital", "of", "france", "?", "[SEP]"])
    expect(encoding.ids[0]).toBe(2)
    expect(encoding.ids.at(-1)).toBe(3)
  })

  it("splits words into the longest pieces", () => {
    expect(tokenizer.encode("unable caches", 32).tokens).toEqual(["[CLS]", "un", "##able", "cache", "##s", "[SEP]"])
  })

  it("strips accents as the normalizer says", () => {
    expect(tokenizer.encode("Café", 32).tokens).toEqual(["[CLS]", "caf", "##e", "[SEP]"])
  })

  it("splits punctuation from words", () => {
    expect(tokenizer.encode("paris,france.", 32).tokens).toEqual(["[CLS]", "paris", ",", "france", ".", "[SEP]"])
  })

  it("maps words without pieces to [UNK]", () => {
    expect(tokenizer.encode("the ∑ gateway", 32).tokens).toEqual(["[CLS]", "the", "[UNK]", "gateway", "[SEP]"])
  })

  it("truncates to maxTokens with the special tokens", () => {
    const encoding = tokenizer.encode("the cache the cache the cache the cache", 5)

    expect(encoding.tokens).toEqual(["[CLS]", "the", "cache", "the", "[SEP]"])
    expect(encoding.ids).toHaveLength(5)
  })

  it("reads the file's padding and length", () => {
    expect(tokenizer.padId).toBe(0)
    expect(tokenizer.fileMaxLength).toBe(64)
    expect(tokenizer.vocabularySize).toBe(testTokenizerJson().model.vocab["##9"]! + 1)
  })

  it("reads BertProcessing special tokens", () => {
    const json = { ...testTokenizerJson(), post_processor: { type: "BertProcessing", sep: ["[SEP]", 3], cls: ["[CLS]", 2] } }

    expect(makeWordPieceTokenizer(json).encode("paris", 8).ids).toEqual([2, json.model.vocab.paris, 3])
  })

  it("keeps case when the normalizer does not lower-case", () => {
    const json = { ...testTokenizerJson(), normalizer: { type: "BertNormalizer", lowercase: false } }

    expect(makeWordPieceTokenizer(json).encode("Paris", 8).tokens).toEqual(["[CLS]", "[UNK]", "[SEP]"])
  })

  const unsupported: ReadonlyArray<readonly [string, unknown, string]> = [
    ["a BPE model", { ...testTokenizerJson(), model: { type: "BPE", vocab: {} } }, "only WordPiece is supported"],
    ["an unknown normalizer", { ...testTokenizerJson(), normalizer: { type: "Precompiled" } }, "normalizer type \"Precompiled\""],
    ["an unknown pre-tokenizer", { ...testTokenizerJson(), pre_tokenizer: { type: "Metaspace" } }, "pre_tokenizer type \"Metaspace\""],
    ["a missing unknown token", { ...testTokenizerJson(), model: { ...testTokenizerJson().model, unk_token: "<unk>" } }, "unknown token \"<unk>\""]
  ]
  for (const [name, json, message] of unsupported) {
    it(`rejects ${name}`, () => {
      expect(() => makeWordPieceTokenizer(json)).toThrow(message)
    })
  }
})
