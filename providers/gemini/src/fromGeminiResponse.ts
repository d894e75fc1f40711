/**
 * A Gemini `GenerateContentResponse` converted to an OpenAI chat completion.
 * The helpers that read one candidate's parts are shared with the stream
 * translator, because every stream event is a whole `GenerateContentResponse`.
 */
import { thoughtSignatureField, UpstreamProtocolError, usageToOpenAI, type ChatCompletion, type ToolCall, type Usage } from "@fluxen/sdk"
import { Either, Schema } from "effect"
import { promptBlockedError } from "./errors.js"
import { toOpenAIFinishReason } from "./finishReasons.js"
import { GenerateContentResponse, type Candidate, type FunctionCall } from "./GeminiTypes.js"
import { usageFromGemini } from "./usage.js"

const decodeResponse = Schema.decodeUnknownEither(GenerateContentResponse)

/**
 * Checks that a parsed body has the shape of a `GenerateContentResponse`.
 * The parse error is not included, because it would repeat upstream values.
 */
export const decodeGenerateContentResponse = (json: unknown, provider: string): GenerateContentResponse => {
  const decoded = decodeResponse(json)
  if (Either.isLeft(decoded)) {
    throw new UpstreamProtocolError({ provider, message: "The upstream sent a body that is not a Gemini GenerateContentResponse." })
  }
  return decoded.right
}

/** Throws `InvalidRequestError` when Gemini refused the prompt and returned no candidates. */
export const failIfPromptBlocked = (response: GenerateContentResponse): void => {
  const blockReason = response.promptFeedback?.blockReason
  if (blockReason !== undefined && (response.candidates ?? []).length === 0) throw promptBlockedError(blockReason)
}

/** Returns the OpenAI choice index of a candidate. Vertex AI omits `index`, so the position is used instead. */
export const candidateIndex = (candidate: Candidate, position: number): number => candidate.index ?? position

/** The content of one candidate, sorted into what OpenAI keeps apart. */
export interface CandidateContent {
  /** The response text: the text parts that are not thoughts, joined. */
  readonly text: string
  /** The thought summaries, joined, which become `reasoning_content`. */
  readonly reasoning: string
  readonly functionCalls: ReadonlyArray<{ readonly call: FunctionCall; readonly thoughtSignature?: string }>
  /** The signature found on a text part. When several parts have one, the last wins. */
  readonly textSignature?: string
}

export const readCandidateContent = (candidate: Candidate): CandidateContent => {
  let text = ""
  let reasoning = ""
  let textSignature: string | undefined
  const functionCalls: Array<{ call: FunctionCall; thoughtSignature?: string }> = []
  for (const part of candidate.content?.parts ?? []) {
    if (part.functionCall !== undefined) {
      functionCalls.push(
        part.thoughtSignature === undefined ? { call: part.functionCall } : { call: part.functionCall, thoughtSignature: part.thoughtSignature }
      )
      continue
    }
    if (part.thought === true) reasoning += part.text ?? ""
    else text += part.text ?? ""
    if (part.thoughtSignature !== undefined) textSignature = part.thoughtSignature
  }
  return textSignature === undefined ? { text, reasoning, functionCalls } : { text, reasoning, functionCalls, textSignature }
}

/**
 * Returns a generator of tool call ids for one response or stream. Gemini
 * sends ids only on some models, so a missing one becomes `call_<n>_<suffix>`,
 * numbered from 0 in order of appearance. The random suffix, one per
 * response, keeps ids unique across the turns of a conversation, because
 * Anthropic clients pair a `tool_result` with its `tool_use` by id.
 */
export const makeToolCallIds = (): ((call: FunctionCall) => string) => {
  const suffix = crypto.randomUUID().slice(-12)
  let next = 0
  return (call) => call.id ?? `call_${next++}_${suffix}`
}

/** An OpenAI tool call for a whole Gemini function call, with its signature if it had one. */
export const toOpenAIToolCall = (id: string, call: FunctionCall, thoughtSignature: string | undefined): ToolCall => ({
  id,
  type: "function",
  function: { name: call.name, arguments: JSON.stringify(call.args ?? {}) },
  ...(thoughtSignature !== undefined ? thoughtSignatureField(thoughtSignature) : {})
})

/** `chatcmpl-` plus Gemini's response id, or a random id when there is none. */
export const completionId = (response: GenerateContentResponse): string =>
  `chatcmpl-${response.responseId ?? crypto.randomUUID()}`

/** Unix seconds from Vertex AI's `createTime`, or now. */
export const createdSeconds = (response: GenerateContentResponse, now: () => number): number => {
  const parsed = response.createTime === undefined ? Number.NaN : Date.parse(response.createTime)
  return Math.floor((Number.isNaN(parsed) ? now() : parsed) / 1000)
}

export interface TranslatedCompletion {
  readonly completion: ChatCompletion
  readonly usage: Usage | undefined
}

export interface TranslateOptions {
  readonly provider: string
  /** The model name asked for, used when the response has no `modelVersion`. */
  readonly model: string
  /** The clock, in milliseconds since the epoch, replaceable in tests. */
  readonly now?: () => number
}

/**
 * Converts a non-streamed `generateContent` body. Throws
 * `InvalidRequestError` for a blocked prompt and `UpstreamProtocolError` for
 * a body of the wrong shape or without candidates.
 */
export const fromGeminiResponse = (json: unknown, options: TranslateOptions): TranslatedCompletion => {
  const response = decodeGenerateContentResponse(json, options.provider)
  failIfPromptBlocked(response)
  const candidates = response.candidates ?? []
  if (candidates.length === 0) {
    throw new UpstreamProtocolError({ provider: options.provider, message: "The upstream sent a response without candidates." })
  }

  const nextToolCallId = makeToolCallIds()
  const choices = candidates.map((candidate, position) => {
    const content = readCandidateContent(candidate)
    const toolCalls = content.functionCalls.map(({ call, thoughtSignature }) =>
      toOpenAIToolCall(nextToolCallId(call), call, thoughtSignature)
    )
    const hasToolCalls = toolCalls.length > 0
    return {
      index: candidateIndex(candidate, position),
      message: {
        role: "assistant" as const,
        content: content.text === "" && hasToolCalls ? null : content.text,
        ...(content.reasoning !== "" ? { reasoning_content: content.reasoning } : {}),
        ...(hasToolCalls ? { tool_calls: toolCalls } : {}),
        ...(content.textSignature !== undefined ? thoughtSignatureField(content.textSignature) : {})
      },
      // Gemini sets a finish reason on every non-streamed candidate, and "stop" covers a response that lacks one.
      finish_reason: toOpenAIFinishReason(candidate.finishReason ?? "STOP", hasToolCalls),
      logprobs: null
    }
  })

  const usage = usageFromGemini(response.usageMetadata)
  return {
    completion: {
      id: completionId(response),
      object: "chat.completion",
      created: createdSeconds(response, options.now ?? Date.now),
      model: response.modelVersion ?? options.model,
      choices,
      ...(usage !== undefined ? { usage: usageToOpenAI(usage) } : {})
    },
    usage
  }
}
