/**
 * Comparing the original output with a candidate model's output for the
 * same request. Both measures are lexical: they count matching words, not
 * meaning, so a correct paraphrase scores low and a fluent wrong output
 * that reuses the words scores high.
 *
 * - Short outputs (at most `SHORT_OUTPUT_MAX_WORDS` words), typical of
 *   classification and extraction, must match exactly after normalization:
 *   score 1 or 0.
 * - Longer outputs get the Jaccard similarity of their word sets,
 *   |A ∩ B| / |A ∪ B|, between 0 and 1.
 */

export const SHORT_OUTPUT_MAX_WORDS = 10

export interface OutputComparison {
  readonly method: "exact" | "jaccard"
  /** 1 or 0 for `exact`; between 0 and 1 for `jaccard`. */
  readonly score: number
}

const WORD = /[\p{L}\p{N}]+/gu

/** Lists the words of a text in lower case, in order. */
export const wordsOf = (text: string): ReadonlyArray<string> => text.normalize("NFKC").toLowerCase().match(WORD) ?? []

/**
 * Normalizes a short output for exact comparison: Unicode compatibility
 * form, lower case, whitespace collapsed, and surrounding quotes and final
 * punctuation removed, so that `"Positive."` equals `positive`.
 */
export const normalizeOutput = (text: string): string =>
  text
    .normalize("NFKC")
    .toLowerCase()
    .replace(/\s+/g, " ")
    .trim()
    .replace(/^["'`“”‘’]+|["'`“”‘’.!?;:,]+$/g, "")
    .trim()

/** Computes |A ∩ B| / |A ∪ B| of two word sets; two empty sets are identical (1). */
export const jaccardSimilarity = (a: ReadonlySet<string>, b: ReadonlySet<string>): number => {
  if (a.size === 0 && b.size === 0) return 1
  let shared = 0
  for (const word of a) if (b.has(word)) shared++
  return shared / (a.size + b.size - shared)
}

/** Compares a candidate output with the original one. The original's length picks the measure. */
export const compareOutputs = (original: string, candidate: string): OutputComparison => {
  const originalWords = wordsOf(original)
  if (originalWords.length <= SHORT_OUTPUT_MAX_WORDS) {
    return { method: "exact", score: normalizeOutput(original) === normalizeOutput(candidate) ? 1 : 0 }
  }
  return { method: "jaccard", score: jaccardSimilarity(new Set(originalWords), new Set(wordsOf(candidate))) }
}

const textOfContent = (content: unknown): string | undefined => {
  if (typeof content === "string") return content
  if (!Array.isArray(content)) return undefined
  const texts = content.flatMap((part: unknown) =>
    typeof part === "object" && part !== null && typeof (part as { text?: unknown }).text === "string"
      ? [(part as { text: string }).text]
      : []
  )
  return texts.length === 0 ? undefined : texts.join("")
}

/**
 * Reads the output of a chat completion body: the first choice's text, or
 * its tool calls written as `name(arguments)` lines when it has no text.
 * Returns undefined when the body has neither.
 */
export const outputText = (completion: unknown): string | undefined => {
  const choices = (completion as { choices?: unknown } | null)?.choices
  if (!Array.isArray(choices) || choices.length === 0) return undefined
  const message = (choices[0] as { message?: { content?: unknown; tool_calls?: unknown } } | null)?.message
  if (message === undefined || message === null) return undefined

  const text = textOfContent(message.content)
  if (text !== undefined && text !== "") return text

  if (!Array.isArray(message.tool_calls) || message.tool_calls.length === 0) return text
  return message.tool_calls
    .map((call: { function?: { name?: unknown; arguments?: unknown } }) => `${String(call.function?.name)}(${String(call.function?.arguments)})`)
    .join("\n")
}
