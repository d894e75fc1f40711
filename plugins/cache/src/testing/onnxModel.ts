/**
 * Writes a small BERT-shaped ONNX model and a matching `tokenizer.json`, so
 * that the ONNX embedder is tested and benchmarked without downloading a
 * model. The model is encoded here field by field, with the
 * field numbers of ONNX's protobuf schema (`onnx.proto`), as IR version 8
 * with opset 13. onnxruntime loading the file is the check of the encoding.
 *
 * The graph: token vectors from a word table (Gather on `input_ids`) plus a
 * token-type table (Gather on `token_type_ids`), then `layers` rounds of
 * MatMul and Tanh, then multiplied by the attention mask. The output is
 * `last_hidden_state` of shape [batch, sequence, dimensions]. With no layers,
 * a token's output is exactly its word row plus type row 0, which lets tests
 * compute the expected embedding by hand. Layers add inference work.
 *
 * With `residual`, each round adds its Tanh to its input instead of
 * replacing it. The benchmark uses that so that unrelated texts stay apart,
 * as they do with a trained model. Without it, deep random layers pull the
 * outputs together, toward the semantic cache's default threshold of 0.92.
 * The benchmark's own test checks that its generated user turns stay below
 * a cosine of 0.8.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as Path from "node:path"
import { seededRandom } from "./vectors.js"

// ---------------------------------------------------------------------------
// Protobuf encoding
// ---------------------------------------------------------------------------

type Bytes = Uint8Array

const varint = (value: number | bigint): Array<number> => {
  let remaining = BigInt(value)
  if (remaining < 0n) throw new RangeError("Negative varints are not used by this model")
  const out: Array<number> = []
  do {
    let byte = Number(remaining & 0x7fn)
    remaining >>= 7n
    if (remaining > 0n) byte |= 0x80
    out.push(byte)
  } while (remaining > 0n)
  return out
}

const concat = (parts: ReadonlyArray<Bytes | Array<number>>): Bytes => {
  const total = parts.reduce((sum, part) => sum + part.length, 0)
  const out = new Uint8Array(total)
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

/** Encodes a varint field (wire type 0). */
const intField = (field: number, value: number | bigint): Bytes => concat([varint((field << 3) | 0), varint(value)])

/** Encodes a length-delimited field (wire type 2), which carries bytes, a string or an embedded message. */
const bytesField = (field: number, value: Bytes | string): Bytes => {
  const data = typeof value === "string" ? new TextEncoder().encode(value) : value
  return concat([varint((field << 3) | 2), varint(data.length), data])
}

const message = (...fields: ReadonlyArray<Bytes>): Bytes => concat(fields)

// ---------------------------------------------------------------------------
// ONNX messages (field numbers from onnx.proto)
// ---------------------------------------------------------------------------

const FLOAT = 1
const INT64 = 7
const ATTRIBUTE_INT = 2

type Dimension = number | string

const tensorType = (elementType: number, shape: ReadonlyArray<Dimension>): Bytes =>
  // TypeProto.tensor_type = 1 { elem_type = 1, shape = 2 { dim = 1 { dim_value = 1 | dim_param = 2 } } }
  bytesField(
    1,
    message(
      intField(1, elementType),
      bytesField(2, message(...shape.map((dim) => bytesField(1, typeof dim === "number" ? intField(1, dim) : bytesField(2, dim)))))
    )
  )

// ValueInfoProto { name = 1, type = 2 }
const valueInfo = (name: string, elementType: number, shape: ReadonlyArray<Dimension>): Bytes =>
  message(bytesField(1, name), bytesField(2, tensorType(elementType, shape)))

// TensorProto { dims = 1, data_type = 2, name = 8, raw_data = 9 }
const floatTensor = (name: string, dims: ReadonlyArray<number>, values: Float32Array): Bytes =>
  message(...dims.map((dim) => intField(1, dim)), intField(2, FLOAT), bytesField(8, name), bytesField(9, new Uint8Array(values.buffer.slice(0))))

const int64Tensor = (name: string, dims: ReadonlyArray<number>, values: ReadonlyArray<number>): Bytes =>
  message(
    ...dims.map((dim) => intField(1, dim)),
    intField(2, INT64),
    bytesField(8, name),
    bytesField(9, new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer))
  )

// AttributeProto { name = 1, i = 3, type = 20 }
const intAttribute = (name: string, value: number): Bytes => message(bytesField(1, name), intField(3, value), intField(20, ATTRIBUTE_INT))

// NodeProto { input = 1, output = 2, name = 3, op_type = 4, attribute = 5 }
const node = (opType: string, inputs: ReadonlyArray<string>, output: string, attributes: ReadonlyArray<Bytes> = []): Bytes =>
  message(
    ...inputs.map((input) => bytesField(1, input)),
    bytesField(2, output),
    bytesField(3, `${opType}_${output}`),
    bytesField(4, opType),
    ...attributes.map((attribute) => bytesField(5, attribute))
  )

// ---------------------------------------------------------------------------
// The test model
// ---------------------------------------------------------------------------

/**
 * Words of the test vocabulary, after the special tokens. Every letter and
 * digit also exists alone and as a `##` piece, so that any ASCII word has a
 * tokenization.
 */
const WORDS = ["the", "what", "is", "capital", "of", "france", "paris", "cache", "gateway", "un", "##able", "##s", "caf", "##e", "?", ",", "."]
const LETTERS = "abcdefghijklmnopqrstuvwxyz0123456789".split("")

/** Returns a vocabulary of the special tokens, `words`, and every letter and digit alone and as a `##` piece. */
export const vocabularyWith = (words: Iterable<string>): ReadonlyArray<string> => [
  "[PAD]",
  "[UNK]",
  "[CLS]",
  "[SEP]",
  ...new Set(words),
  ...LETTERS,
  ...LETTERS.map((letter) => `##${letter}`)
]

export const TEST_VOCABULARY: ReadonlyArray<string> = vocabularyWith(WORDS)

export interface TestModelOptions {
  readonly dimensions: number
  /** MatMul and Tanh rounds after the embedding lookup; 0 keeps the output equal to the table rows. */
  readonly layers?: number
  readonly seed?: number
  /** The model file's place: `model.onnx` by default, or `onnx/model.onnx` as in some Hugging Face repositories. */
  readonly layout?: "flat" | "onnx-folder"
  /** Whether each layer adds its output to its input (see the file header). Default false. */
  readonly residual?: boolean
  /** The tokenizer's vocabulary; default {@link TEST_VOCABULARY}. */
  readonly vocabulary?: ReadonlyArray<string>
  /** The directory to write to, created when missing; default a new temporary directory. */
  readonly directory?: string
}

export interface TestModel {
  readonly directory: string
  readonly dimensions: number
  /** The word table, [vocabulary size, dimensions], row-major. */
  readonly wordTable: Float32Array
  /** The token-type table, [2, dimensions]. */
  readonly typeTable: Float32Array
  readonly vocabulary: ReadonlyArray<string>
  /** Size of `model.onnx` in bytes. */
  readonly modelBytes: number
}

/** Encodes the model described in the file header as ONNX protobuf bytes. */
export const encodeTestModel = (
  dimensions: number,
  layers: number,
  wordTable: Float32Array,
  typeTable: Float32Array,
  layerWeights: ReadonlyArray<Float32Array>,
  residual = false
): Bytes => {
  const vocabularySize = wordTable.length / dimensions
  const nodes: Array<Bytes> = [
    node("Gather", ["word_table", "input_ids"], "words", [intAttribute("axis", 0)]),
    node("Gather", ["type_table", "token_type_ids"], "types", [intAttribute("axis", 0)]),
    node("Add", ["words", "types"], "hidden_0")
  ]
  for (let layer = 0; layer < layers; layer++) {
    nodes.push(node("MatMul", [`hidden_${layer}`, `weight_${layer}`], `product_${layer}`))
    if (residual) {
      nodes.push(node("Tanh", [`product_${layer}`], `activation_${layer}`))
      nodes.push(node("Add", [`hidden_${layer}`, `activation_${layer}`], `hidden_${layer + 1}`))
    } else {
      nodes.push(node("Tanh", [`product_${layer}`], `hidden_${layer + 1}`))
    }
  }
  nodes.push(node("Cast", ["attention_mask"], "mask_float", [intAttribute("to", FLOAT)]))
  nodes.push(node("Unsqueeze", ["mask_float", "last_axis"], "mask_column"))
  nodes.push(node("Mul", [`hidden_${layers}`, "mask_column"], "last_hidden_state"))

  const initializers = [
    floatTensor("word_table", [vocabularySize, dimensions], wordTable),
    floatTensor("type_table", [2, dimensions], typeTable),
    int64Tensor("last_axis", [1], [2]),
    ...layerWeights.map((weights, layer) => floatTensor(`weight_${layer}`, [dimensions, dimensions], weights))
  ]

  // GraphProto { node = 1, name = 2, initializer = 5, input = 11, output = 12 }
  const graph = message(
    ...nodes.map((entry) => bytesField(1, entry)),
    bytesField(2, "fluxen_test_embedder"),
    ...initializers.map((initializer) => bytesField(5, initializer)),
    bytesField(11, valueInfo("input_ids", INT64, ["batch", "sequence"])),
    bytesField(11, valueInfo("attention_mask", INT64, ["batch", "sequence"])),
    bytesField(11, valueInfo("token_type_ids", INT64, ["batch", "sequence"])),
    bytesField(12, valueInfo("last_hidden_state", FLOAT, ["batch", "sequence", dimensions]))
  )

  // ModelProto { ir_version = 1, producer_name = 2, graph = 7, opset_import = 8 { domain = 1, version = 2 } }
  return message(
    intField(1, 8),
    bytesField(2, "fluxen-cache-tests"),
    bytesField(7, graph),
    bytesField(8, message(bytesField(1, ""), intField(2, 13)))
  )
}

/** Returns a Hugging Face style `tokenizer.json` for `vocabulary`, with BERT's normalizer, pre-tokenizer and template. */
export const testTokenizerJson = (maxLength?: number, vocabulary: ReadonlyArray<string> = TEST_VOCABULARY) => ({
  version: "1.0",
  truncation: maxLength === undefined ? null : { direction: "Right", max_length: maxLength, strategy: "LongestFirst", stride: 0 },
  padding: null,
  added_tokens: ["[PAD]", "[UNK]", "[CLS]", "[SEP]"].map((content, id) => ({
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
    vocab: Object.fromEntries(vocabulary.map((token, id) => [token, id]))
  }
})

/** Writes a model directory with random weights, the same for the same options. */
export const writeTestModel = (options: TestModelOptions): TestModel => {
  const random = seededRandom(options.seed ?? 1)
  const layers = options.layers ?? 0
  const dimensions = options.dimensions
  const vocabulary = options.vocabulary ?? TEST_VOCABULARY
  const table = (length: number, scale: number) => Float32Array.from({ length }, () => (random() * 2 - 1) * scale)
  const wordTable = table(vocabulary.length * dimensions, 1)
  const typeTable = table(2 * dimensions, 0.1)
  // A scale of 1/sqrt(dimensions) keeps the products near unit size, so Tanh does not saturate.
  const layerWeights = Array.from({ length: layers }, () => table(dimensions * dimensions, 1 / Math.sqrt(dimensions)))

  const directory = options.directory ?? mkdtempSync(Path.join(tmpdir(), "fluxen-onnx-"))
  const modelDirectory = options.layout === "onnx-folder" ? Path.join(directory, "onnx") : directory
  mkdirSync(modelDirectory, { recursive: true })
  const model = encodeTestModel(dimensions, layers, wordTable, typeTable, layerWeights, options.residual ?? false)
  writeFileSync(Path.join(modelDirectory, "model.onnx"), model)
  writeFileSync(Path.join(directory, "tokenizer.json"), JSON.stringify(testTokenizerJson(undefined, vocabulary)))
  return { directory, dimensions, wordTable, typeTable, vocabulary, modelBytes: model.length }
}
