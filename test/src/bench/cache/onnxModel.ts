/**
 * Writes a small BERT-shaped sentence-embedding model (`model.onnx`) and its
 * `tokenizer.json` for the `onnx` embedder, so that the benchmark needs no
 * downloaded model. The weights are random, so its vectors mean nothing, but
 * an inference costs CPU time as a model of its size would.
 *
 * The graph: a Gather of the word table on `input_ids`, then `layers`
 * residual rounds (hidden + Tanh(hidden × W) with a [dimensions, dimensions]
 * W), then a Mul by the attention mask, giving `last_hidden_state` of shape
 * [batch, sequence, dimensions]. The residual keeps each word's own vector in
 * the output, so unrelated texts stay apart, as they do with a trained
 * model. Without it, deep random layers pull the outputs together: at 32
 * layers, two of 200 generated user turns reached a cosine of 0.90, close to
 * the default threshold of 0.92, against 0.63 with the residual. The file is
 * protobuf, encoded field by field with the field numbers of
 * `onnx.proto` (IR version 8, opset 13).
 */
import { mkdirSync, writeFileSync } from "node:fs"
import * as Path from "node:path"
import { sentenceWords } from "./requests.js"

// ---------------------------------------------------------------------------
// Protobuf wire format
// ---------------------------------------------------------------------------

const encodeVarint = (value: number): Array<number> => {
  const bytes: Array<number> = []
  let rest = value
  while (rest >= 0x80) {
    bytes.push((rest % 0x80) | 0x80)
    rest = Math.floor(rest / 0x80)
  }
  bytes.push(rest)
  return bytes
}

const joinBytes = (parts: ReadonlyArray<Uint8Array | ReadonlyArray<number>>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0))
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

/** Encodes a varint field (wire type 0). */
const varintField = (field: number, value: number): Uint8Array => joinBytes([encodeVarint(field * 8), encodeVarint(value)])

/** Encodes a length-delimited field (wire type 2), which carries bytes, a string or an embedded message. */
const lengthField = (field: number, value: Uint8Array | string): Uint8Array => {
  const bytes = typeof value === "string" ? Buffer.from(value, "utf8") : value
  return joinBytes([encodeVarint(field * 8 + 2), encodeVarint(bytes.length), bytes])
}

// ---------------------------------------------------------------------------
// ONNX messages
// ---------------------------------------------------------------------------

const FLOAT = 1
const INT64 = 7
const ATTRIBUTE_INT = 2

/** ValueInfoProto { name = 1, type = 2 { tensor_type = 1 { elem_type = 1, shape = 2 { dim = 1 { dim_value = 1 | dim_param = 2 } } } } }. */
const valueInfo = (name: string, elementType: number, shape: ReadonlyArray<number | string>): Uint8Array => {
  const dims = shape.map((dim) => lengthField(1, typeof dim === "number" ? varintField(1, dim) : lengthField(2, dim)))
  const tensorType = joinBytes([varintField(1, elementType), lengthField(2, joinBytes(dims))])
  return joinBytes([lengthField(1, name), lengthField(2, lengthField(1, tensorType))])
}

/** TensorProto { dims = 1, data_type = 2, name = 8, raw_data = 9 }. Raw data is little-endian. */
const tensor = (name: string, elementType: number, dims: ReadonlyArray<number>, rawData: Uint8Array): Uint8Array =>
  joinBytes([...dims.map((dim) => varintField(1, dim)), varintField(2, elementType), lengthField(8, name), lengthField(9, rawData)])

const floatTensor = (name: string, dims: ReadonlyArray<number>, values: Float32Array): Uint8Array =>
  tensor(name, FLOAT, dims, new Uint8Array(values.buffer, values.byteOffset, values.byteLength))

const int64Tensor = (name: string, values: ReadonlyArray<number>): Uint8Array => {
  const data = BigInt64Array.from(values.map(BigInt))
  return tensor(name, INT64, [values.length], new Uint8Array(data.buffer))
}

/** NodeProto { input = 1, output = 2, name = 3, op_type = 4, attribute = 5 { name = 1, i = 3, type = 20 } }. */
const graphNode = (opType: string, inputs: ReadonlyArray<string>, output: string, intAttributes: Record<string, number> = {}): Uint8Array =>
  joinBytes([
    ...inputs.map((input) => lengthField(1, input)),
    lengthField(2, output),
    lengthField(3, `${opType}_${output}`),
    lengthField(4, opType),
    ...Object.entries(intAttributes).map(([name, value]) =>
      lengthField(5, joinBytes([lengthField(1, name), varintField(3, value), varintField(20, ATTRIBUTE_INT)]))
    )
  ])

// ---------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------

const SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
const CHARACTERS = "abcdefghijklmnopqrstuvwxyz0123456789".split("")

/**
 * The vocabulary. It has the special tokens, then the words of the
 * benchmark's user turns and punctuation, so that each word is one token.
 * Every letter and digit follows, alone and as a `##` piece, so that any
 * other ASCII word has a tokenization too.
 */
export const benchVocabulary: ReadonlyArray<string> = [
  ...SPECIAL_TOKENS,
  ...new Set([...sentenceWords, "?", ".", ",", ":"]),
  ...CHARACTERS,
  ...CHARACTERS.map((character) => `##${character}`)
]

export interface BenchModelOptions {
  /** Length of the output vectors, and the side of every layer's square matrix. */
  readonly dimensions: number
  /** Residual MatMul and Tanh rounds. Each round adds inference time. */
  readonly layers: number
}

/** A mulberry32 generator, so that every run writes the same weights. */
const seededRandom = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

const encodeModel = (options: BenchModelOptions): Uint8Array => {
  const { dimensions, layers } = options
  const random = seededRandom(20_250_101)
  const uniform = (length: number, scale: number) => Float32Array.from({ length }, () => (random() * 2 - 1) * scale)

  const nodes = [graphNode("Gather", ["word_table", "input_ids"], "hidden_0", { axis: 0 })]
  const initializers = [
    floatTensor("word_table", [benchVocabulary.length, dimensions], uniform(benchVocabulary.length * dimensions, 1)),
    int64Tensor("last_axis", [2])
  ]
  for (let layer = 0; layer < layers; layer++) {
    nodes.push(graphNode("MatMul", [`hidden_${layer}`, `weight_${layer}`], `product_${layer}`))
    nodes.push(graphNode("Tanh", [`product_${layer}`], `activation_${layer}`))
    nodes.push(graphNode("Add", [`hidden_${layer}`, `activation_${layer}`], `hidden_${layer + 1}`))
    // A scale of 1/sqrt(dimensions) keeps the products near unit size, so Tanh does not saturate.
    initializers.push(floatTensor(`weight_${layer}`, [dimensions, dimensions], uniform(dimensions * dimensions, Math.sqrt(3 / dimensions))))
  }
  nodes.push(graphNode("Cast", ["attention_mask"], "mask_float", { to: FLOAT }))
  nodes.push(graphNode("Unsqueeze", ["mask_float", "last_axis"], "mask_column"))
  nodes.push(graphNode("Mul", [`hidden_${layers}`, "mask_column"], "last_hidden_state"))

  // GraphProto { node = 1, name = 2, initializer = 5, input = 11, output = 12 }
  const graph = joinBytes([
    ...nodes.map((entry) => lengthField(1, entry)),
    lengthField(2, "fluxen_cache_bench_embedder"),
    ...initializers.map((initializer) => lengthField(5, initializer)),
    lengthField(11, valueInfo("input_ids", INT64, ["batch", "sequence"])),
    lengthField(11, valueInfo("attention_mask", INT64, ["batch", "sequence"])),
    lengthField(12, valueInfo("last_hidden_state", FLOAT, ["batch", "sequence", dimensions]))
  ])
  // ModelProto { ir_version = 1, producer_name = 2, graph = 7, opset_import = 8 { domain = 1, version = 2 } }
  return joinBytes([
    varintField(1, 8),
    lengthField(2, "fluxen-cache-bench"),
    lengthField(7, graph),
    lengthField(8, joinBytes([lengthField(1, ""), varintField(2, 13)]))
  ])
}

/** Returns a Hugging Face `tokenizer.json` with BERT's normalizer, pre-tokenizer and `[CLS] … [SEP]` template over {@link benchVocabulary}. */
const tokenizerJson = () => ({
  version: "1.0",
  truncation: null,
  padding: null,
  added_tokens: SPECIAL_TOKENS.map((content, id) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true
  })),
  normalizer: { type: "BertNormalizer", clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
  pre_tokenizer: { type: "BertPreTokenizer" },
  post_processor: {
    type: "TemplateProcessing",
    single: [{ SpecialToken: { id: "[CLS]", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: "[SEP]", type_id: 0 } }],
    pair: [],
    special_tokens: {
      "[CLS]": { id: "[CLS]", ids: [2], tokens: ["[CLS]"] },
      "[SEP]": { id: "[SEP]", ids: [3], tokens: ["[SEP]"] }
    }
  },
  decoder: { type: "WordPiece", prefix: "##", cleanup: true },
  model: {
    type: "WordPiece",
    unk_token: "[UNK]",
    continuing_subword_prefix: "##",
    max_input_chars_per_word: 100,
    vocab: Object.fromEntries(benchVocabulary.map((token, id) => [token, id]))
  }
})

/** Writes `model.onnx` and `tokenizer.json` into `directory`, creating it, and returns the model file's size in bytes. */
export const writeBenchModel = (directory: string, options: BenchModelOptions): number => {
  mkdirSync(directory, { recursive: true })
  const model = encodeModel(options)
  writeFileSync(Path.join(directory, "model.onnx"), model)
  writeFileSync(Path.join(directory, "tokenizer.json"), JSON.stringify(tokenizerJson()))
  return model.length
}
