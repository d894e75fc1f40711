/**
 * A WordPiece tokenizer for BERT-style models, configured from a Hugging
 * Face `tokenizer.json`: its normalizer, pre-tokenizer, `WordPiece` model
 * (vocabulary, unknown token, subword prefix) and post-processor (the ids of
 * `[CLS]` and `[SEP]`).
 *
 * Supported parts: the normalizers `BertNormalizer`, `Lowercase`,
 * `StripAccents`, `Strip`, `NFC`, `NFD`, `NFKC`, `NFKD` and `Sequence`; the
 * pre-tokenizers `BertPreTokenizer`, `Whitespace`, `WhitespaceSplit` and
 * `Sequence`; the post-processors `BertProcessing` and `TemplateProcessing`
 * (single sequence). Any other type is rejected when the file is loaded.
 *
 * NOTE: added tokens written in the text (such as a literal "[SEP]") are
 * tokenized as ordinary text, where Hugging Face's tokenizer would match
 * them as special tokens first. A user turn rarely contains them.
 */

/** One encoded text: ids with `[CLS]` first and `[SEP]` last, at most the requested length. */
export interface Encoding {
  readonly ids: ReadonlyArray<number>
  /** The token strings of `ids`, for tests and debugging. */
  readonly tokens: ReadonlyArray<string>
}

export interface WordPieceTokenizer {
  /** Token id of padding, from `padding.pad_id`, else the vocabulary's `[PAD]`, else 0. */
  readonly padId: number
  /** The vocabulary size: the largest id plus one. */
  readonly vocabularySize: number
  /** The `max_length` of the file's `truncation` section, when it has one. */
  readonly fileMaxLength: number | undefined
  /** Splits `text` into tokens and cuts the result to at most `maxTokens` ids, the special tokens included. */
  readonly encode: (text: string, maxTokens: number) => Encoding
}

type Normalize = (text: string) => string
type PreTokenize = (pieces: ReadonlyArray<string>) => Array<string>

const isRecord = (value: unknown): value is Readonly<Record<string, unknown>> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const invalid = (message: string): Error => new Error(`tokenizer.json is not supported: ${message}`)

// ---------------------------------------------------------------------------
// Normalizers
// ---------------------------------------------------------------------------

const isControl = (char: string): boolean => {
  if (char === "\t" || char === "\n" || char === "\r") return false
  return /[\p{Cc}\p{Cf}\p{Cn}\p{Co}\p{Cs}]/u.test(char)
}

/** CJK ideographs, which BERT treats as one word each. The ranges are those of the original BERT tokenizer. */
const isChineseChar = (code: number): boolean =>
  (code >= 0x4e00 && code <= 0x9fff) ||
  (code >= 0x3400 && code <= 0x4dbf) ||
  (code >= 0x20000 && code <= 0x2a6df) ||
  (code >= 0x2a700 && code <= 0x2b73f) ||
  (code >= 0x2b740 && code <= 0x2b81f) ||
  (code >= 0x2b820 && code <= 0x2ceaf) ||
  (code >= 0xf900 && code <= 0xfaff) ||
  (code >= 0x2f800 && code <= 0x2fa1f)

const stripAccents: Normalize = (text) => text.normalize("NFD").replace(/\p{Mn}/gu, "")

const cleanText: Normalize = (text) => {
  let cleaned = ""
  for (const char of text) {
    const code = char.codePointAt(0)!
    if (code === 0 || code === 0xfffd || isControl(char)) continue
    cleaned += /\s/u.test(char) ? " " : char
  }
  return cleaned
}

const spaceChineseChars: Normalize = (text) => {
  let spaced = ""
  for (const char of text) spaced += isChineseChar(char.codePointAt(0)!) ? ` ${char} ` : char
  return spaced
}

const bertNormalizer = (config: Readonly<Record<string, unknown>>): Normalize => {
  const clean = config.clean_text !== false
  const chinese = config.handle_chinese_chars !== false
  const lowercase = config.lowercase !== false
  // `strip_accents: null` follows `lowercase`, as in Hugging Face's tokenizers.
  const strip = typeof config.strip_accents === "boolean" ? config.strip_accents : lowercase
  return (text) => {
    let normalized = clean ? cleanText(text) : text
    if (chinese) normalized = spaceChineseChars(normalized)
    if (strip) normalized = stripAccents(normalized)
    return lowercase ? normalized.toLowerCase() : normalized
  }
}

const makeNormalizer = (config: unknown): Normalize => {
  if (config === null || config === undefined) return (text) => text
  if (!isRecord(config)) throw invalid("normalizer is not an object")
  switch (config.type) {
    case "BertNormalizer":
      return bertNormalizer(config)
    case "Lowercase":
      return (text) => text.toLowerCase()
    case "StripAccents":
      return stripAccents
    case "Strip": {
      const left = config.strip_left !== false
      const right = config.strip_right !== false
      return (text) => (left && right ? text.trim() : left ? text.trimStart() : right ? text.trimEnd() : text)
    }
    case "NFC":
    case "NFD":
    case "NFKC":
    case "NFKD": {
      const form = config.type
      return (text) => text.normalize(form)
    }
    case "Sequence": {
      if (!Array.isArray(config.normalizers)) throw invalid("a Sequence normalizer has no normalizers list")
      const steps = config.normalizers.map(makeNormalizer)
      return (text) => steps.reduce((current, step) => step(current), text)
    }
    default:
      throw invalid(`normalizer type ${JSON.stringify(config.type)}`)
  }
}

// ---------------------------------------------------------------------------
// Pre-tokenizers
// ---------------------------------------------------------------------------

/** BERT's punctuation: every ASCII symbol that is not a letter, digit or space, and every Unicode punctuation character. */
const isPunctuation = (char: string): boolean => {
  const code = char.codePointAt(0)!
  if ((code >= 33 && code <= 47) || (code >= 58 && code <= 64) || (code >= 91 && code <= 96) || (code >= 123 && code <= 126)) {
    return true
  }
  return /\p{P}/u.test(char)
}

/** Splits on whitespace, which is dropped, and around each punctuation character, which becomes a piece. */
const bertPreTokenize: PreTokenize = (pieces) => {
  const out: Array<string> = []
  for (const piece of pieces) {
    let current = ""
    for (const char of piece) {
      if (/\s/u.test(char)) {
        if (current !== "") out.push(current)
        current = ""
      } else if (isPunctuation(char)) {
        if (current !== "") out.push(current)
        out.push(char)
        current = ""
      } else {
        current += char
      }
    }
    if (current !== "") out.push(current)
  }
  return out
}

const makePreTokenizer = (config: unknown): PreTokenize => {
  if (config === null || config === undefined) return (pieces) => [...pieces]
  if (!isRecord(config)) throw invalid("pre_tokenizer is not an object")
  switch (config.type) {
    case "BertPreTokenizer":
      return bertPreTokenize
    case "Whitespace":
      return (pieces) => pieces.flatMap((piece) => piece.match(/\w+|[^\w\s]+/gu) ?? [])
    case "WhitespaceSplit":
      return (pieces) => pieces.flatMap((piece) => piece.split(/\s+/u).filter((part) => part !== ""))
    case "Sequence": {
      if (!Array.isArray(config.pretokenizers)) throw invalid("a Sequence pre_tokenizer has no pretokenizers list")
      const steps = config.pretokenizers.map(makePreTokenizer)
      return (pieces) => steps.reduce<Array<string>>((current, step) => step(current), [...pieces])
    }
    default:
      throw invalid(`pre_tokenizer type ${JSON.stringify(config.type)}`)
  }
}

// ---------------------------------------------------------------------------
// Special tokens
// ---------------------------------------------------------------------------

interface SpecialIds {
  readonly cls: readonly [string, number]
  readonly sep: readonly [string, number]
}

const idPair = (value: unknown, name: string): readonly [string, number] => {
  if (Array.isArray(value) && typeof value[0] === "string" && typeof value[1] === "number") return [value[0], value[1]]
  throw invalid(`post_processor.${name} is not a [token, id] pair`)
}

/**
 * Reads the tokens put before and after the text. A `TemplateProcessing`
 * single template must be one special token, the sequence, and one special
 * token, as BERT's is.
 */
const readSpecialIds = (config: unknown, vocabulary: ReadonlyMap<string, number>): SpecialIds => {
  if (isRecord(config) && config.type === "BertProcessing") return { cls: idPair(config.cls, "cls"), sep: idPair(config.sep, "sep") }
  if (isRecord(config) && config.type === "TemplateProcessing") {
    const single = Array.isArray(config.single) ? config.single : []
    const specials = isRecord(config.special_tokens) ? config.special_tokens : {}
    const special = (entry: unknown): readonly [string, number] => {
      const name = isRecord(entry) && isRecord(entry.SpecialToken) ? entry.SpecialToken.id : undefined
      const definition = typeof name === "string" ? specials[name] : undefined
      const ids = isRecord(definition) && Array.isArray(definition.ids) ? definition.ids : []
      if (typeof name !== "string" || ids.length !== 1 || typeof ids[0] !== "number") {
        throw invalid("the TemplateProcessing single template must be [special token, sequence, special token] with one id each")
      }
      return [name, ids[0]]
    }
    if (single.length !== 3 || !(isRecord(single[1]) && "Sequence" in single[1])) {
      throw invalid("the TemplateProcessing single template must be [special token, sequence, special token]")
    }
    return { cls: special(single[0]), sep: special(single[2]) }
  }
  if (config !== null && config !== undefined) {
    throw invalid(`post_processor type ${JSON.stringify(isRecord(config) ? config.type : config)}`)
  }
  const cls = vocabulary.get("[CLS]")
  const sep = vocabulary.get("[SEP]")
  if (cls === undefined || sep === undefined) throw invalid("there is no post_processor and the vocabulary lacks [CLS] or [SEP]")
  return { cls: ["[CLS]", cls], sep: ["[SEP]", sep] }
}

// ---------------------------------------------------------------------------
// The tokenizer
// ---------------------------------------------------------------------------

/** Builds a tokenizer from the parsed JSON of a `tokenizer.json` file; throws an Error naming the unsupported part. */
export const makeWordPieceTokenizer = (json: unknown): WordPieceTokenizer => {
  if (!isRecord(json)) throw invalid("the file is not a JSON object")
  const model = json.model
  if (!isRecord(model) || model.type !== "WordPiece") {
    throw invalid(`model type ${JSON.stringify(isRecord(model) ? model.type : undefined)}; only WordPiece is supported`)
  }
  if (!isRecord(model.vocab)) throw invalid("model.vocab is not an object of token ids")

  const vocabulary = new Map<string, number>()
  let vocabularySize = 0
  for (const [token, id] of Object.entries(model.vocab)) {
    if (typeof id !== "number" || !Number.isInteger(id) || id < 0) throw invalid(`the id of token ${JSON.stringify(token)} is not a non-negative integer`)
    vocabulary.set(token, id)
    vocabularySize = Math.max(vocabularySize, id + 1)
  }
  const unknownToken = typeof model.unk_token === "string" ? model.unk_token : "[UNK]"
  const unknownId = vocabulary.get(unknownToken)
  if (unknownId === undefined) throw invalid(`the unknown token ${JSON.stringify(unknownToken)} is not in the vocabulary`)
  const prefix = typeof model.continuing_subword_prefix === "string" ? model.continuing_subword_prefix : "##"
  const maxWordChars = typeof model.max_input_chars_per_word === "number" ? model.max_input_chars_per_word : 100

  const normalize = makeNormalizer(json.normalizer)
  const preTokenize = makePreTokenizer(json.pre_tokenizer)
  const specials = readSpecialIds(json.post_processor, vocabulary)
  const padding = isRecord(json.padding) ? json.padding : undefined
  const padId = typeof padding?.pad_id === "number" ? padding.pad_id : (vocabulary.get("[PAD]") ?? 0)
  const truncation = isRecord(json.truncation) ? json.truncation : undefined
  const fileMaxLength = typeof truncation?.max_length === "number" ? truncation.max_length : undefined

  /** Splits one word greedily into the longest pieces found in the vocabulary, or the unknown token when a part matches nothing. */
  const wordPieces = (word: string, tokens: Array<string>): void => {
    const chars = Array.from(word)
    if (chars.length > maxWordChars) {
      tokens.push(unknownToken)
      return
    }
    const pieces: Array<string> = []
    let start = 0
    while (start < chars.length) {
      let end = chars.length
      let match: string | undefined
      while (start < end) {
        const candidate = (start > 0 ? prefix : "") + chars.slice(start, end).join("")
        if (vocabulary.has(candidate)) {
          match = candidate
          break
        }
        end--
      }
      if (match === undefined) {
        tokens.push(unknownToken)
        return
      }
      pieces.push(match)
      start = end
    }
    tokens.push(...pieces)
  }

  const encode = (text: string, maxTokens: number): Encoding => {
    const limit = Math.max(0, Math.floor(maxTokens) - 2)
    const tokens: Array<string> = []
    for (const word of preTokenize([normalize(text)])) {
      if (tokens.length >= limit) break
      wordPieces(word, tokens)
    }
    tokens.length = Math.min(tokens.length, limit)
    const ids = [specials.cls[1], ...tokens.map((token) => vocabulary.get(token) ?? unknownId), specials.sep[1]]
    return { ids, tokens: [specials.cls[0], ...tokens, specials.sep[0]] }
  }

  return { padId, vocabularySize, fileMaxLength, encode }
}
