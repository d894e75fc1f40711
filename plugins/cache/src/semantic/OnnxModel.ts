/**
 * A sentence-embedding model run with onnxruntime: WordPiece tokens in,
 * the mean of the token vectors under the attention mask out, scaled to
 * length 1. The ONNX embedder's worker threads each load one; tests also run
 * it on the main thread.
 *
 * The model takes int64 `input_ids` and `attention_mask` of shape
 * [batch, sequence], and `token_type_ids` when it declares that input, as
 * BERT exports do. Its output is `last_hidden_state` (else
 * `token_embeddings`, else the first output) of shape
 * [batch, sequence, dimensions], or an already pooled [batch, dimensions].
 */
import { readFile } from "node:fs/promises"
import * as ort from "onnxruntime-node"
import { normalizeInPlace } from "./Embedder.js"
import { makeWordPieceTokenizer, type WordPieceTokenizer } from "./WordPieceTokenizer.js"

export interface OnnxModelOptions {
  readonly modelPath: string
  readonly tokenizerPath: string
  /** Maximum input length in tokens, `[CLS]` and `[SEP]` included. */
  readonly maxTokens: number
  /** Threads onnxruntime may use for one inference. */
  readonly intraOpThreads: number
}

export interface OnnxModel {
  readonly tokenizer: WordPieceTokenizer
  readonly inputNames: ReadonlyArray<string>
  readonly outputName: string
  /** Embeds texts in one inference; returns one unit vector per text. */
  readonly embed: (texts: ReadonlyArray<string>) => Promise<Array<Float32Array>>
  readonly close: () => Promise<void>
}

const OUTPUT_PREFERENCE = ["last_hidden_state", "token_embeddings"]

/** Loads the tokenizer and the model; rejects with an Error that names the file at fault. */
export const loadOnnxModel = async (options: OnnxModelOptions): Promise<OnnxModel> => {
  let tokenizer: WordPieceTokenizer
  try {
    tokenizer = makeWordPieceTokenizer(JSON.parse(await readFile(options.tokenizerPath, "utf8")))
  } catch (error) {
    throw new Error(`Loading ${options.tokenizerPath} failed: ${error instanceof Error ? error.message : String(error)}`)
  }

  let session: ort.InferenceSession
  try {
    session = await ort.InferenceSession.create(options.modelPath, {
      executionProviders: ["cpu"],
      intraOpNumThreads: options.intraOpThreads,
      interOpNumThreads: 1,
      graphOptimizationLevel: "all"
    })
  } catch (error) {
    throw new Error(`Loading ${options.modelPath} failed: ${error instanceof Error ? error.message : String(error)}`)
  }

  for (const required of ["input_ids", "attention_mask"]) {
    if (!session.inputNames.includes(required)) {
      await session.release()
      throw new Error(`The model ${options.modelPath} has no input ${required}; its inputs are ${session.inputNames.join(", ")}.`)
    }
  }
  const outputName = OUTPUT_PREFERENCE.find((name) => session.outputNames.includes(name)) ?? session.outputNames[0]
  if (outputName === undefined) {
    await session.release()
    throw new Error(`The model ${options.modelPath} has no output.`)
  }
  const withTokenTypes = session.inputNames.includes("token_type_ids")

  const embed = async (texts: ReadonlyArray<string>): Promise<Array<Float32Array>> => {
    if (texts.length === 0) return []
    const encoded = texts.map((text) => tokenizer.encode(text, options.maxTokens).ids)
    const batch = encoded.length
    const length = Math.max(...encoded.map((ids) => ids.length))
    const inputIds = new BigInt64Array(batch * length).fill(BigInt(tokenizer.padId))
    const attentionMask = new BigInt64Array(batch * length)
    encoded.forEach((ids, row) => {
      ids.forEach((id, column) => {
        inputIds[row * length + column] = BigInt(id)
        attentionMask[row * length + column] = 1n
      })
    })

    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor("int64", inputIds, [batch, length]),
      attention_mask: new ort.Tensor("int64", attentionMask, [batch, length])
    }
    if (withTokenTypes) feeds.token_type_ids = new ort.Tensor("int64", new BigInt64Array(batch * length), [batch, length])

    const output = (await session.run(feeds, [outputName]))[outputName]
    if (output === undefined || output.type !== "float32") {
      throw new Error(`The model's output ${outputName} is not a float32 tensor.`)
    }
    return pool(output.data as Float32Array, output.dims, encoded.map((ids) => ids.length))
  }

  return { tokenizer, inputNames: session.inputNames, outputName, embed, close: () => session.release() }
}

/**
 * Turns a model output into one unit vector per text: the mean over the
 * first `lengths[row]` tokens of a [batch, sequence, dimensions] output
 * (the tokens the attention mask covers), or the rows of a
 * [batch, dimensions] output.
 */
export const pool = (data: Float32Array, dims: ReadonlyArray<number>, lengths: ReadonlyArray<number>): Array<Float32Array> => {
  if (dims.length === 2) {
    const dimensions = dims[1]!
    return lengths.map((_, row) => normalizeInPlace(data.slice(row * dimensions, (row + 1) * dimensions)))
  }
  if (dims.length !== 3) throw new Error(`Expected a model output of 2 or 3 dimensions, got [${dims.join(", ")}].`)

  const sequence = dims[1]!
  const dimensions = dims[2]!
  return lengths.map((tokens, row) => {
    const vector = new Float32Array(dimensions)
    for (let token = 0; token < tokens; token++) {
      const offset = (row * sequence + token) * dimensions
      for (let i = 0; i < dimensions; i++) vector[i] = vector[i]! + data[offset + i]!
    }
    for (let i = 0; i < dimensions; i++) vector[i] = vector[i]! / Math.max(1, tokens)
    return normalizeInPlace(vector)
  })
}
