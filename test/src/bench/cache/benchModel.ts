/**
 * The benchmark's ONNX sentence-embedding model: the cache plugin's test
 * model with residual layers and a vocabulary of the benchmark's user-turn
 * words, so that each word is one token. Its weights are random, so its
 * vectors mean nothing, but an inference costs CPU time as a model of its
 * size would.
 */
import { vocabularyWith, writeTestModel } from "@fluxen/cache/testing/onnx"
import { sentenceWords } from "./requests.js"

export interface BenchModelOptions {
  /** Length of the output vectors, and the side of every layer's square matrix. */
  readonly dimensions: number
  /** Residual MatMul and Tanh rounds. Each round adds inference time. */
  readonly layers: number
}

const benchVocabulary = vocabularyWith([...sentenceWords, "?", ".", ",", ":"])

/** Writes `model.onnx` and `tokenizer.json` into `directory`, creating it, and returns the model file's size in bytes. */
export const writeBenchModel = (directory: string, options: BenchModelOptions): number =>
  writeTestModel({ ...options, directory, residual: true, vocabulary: benchVocabulary, seed: 20_250_101 }).modelBytes
