/**
 * An OpenAI chat request converted to a Gemini `generateContent` body. The
 * messages are converted in `toGeminiContents.ts`, and this module converts the
 * tools, the tool choice and the sampling parameters, each through a table.
 */
import { InvalidRequestError, type ChatRequest } from "@fluxen/sdk"
import { Effect } from "effect"
import type {
  FunctionCallingMode,
  FunctionDeclaration,
  GenerateContentRequest,
  GenerationConfig,
  ThinkingConfig,
  ToolConfig
} from "./GeminiTypes.js"
import { toGeminiContents } from "./toGeminiContents.js"
import { toGeminiSchema } from "./toGeminiSchema.js"

const invalid = (message: string, param: string): InvalidRequestError => new InvalidRequestError({ message, param })

// ---------------------------------------------------------------------------
// Reasoning effort
// ---------------------------------------------------------------------------

/**
 * `reasoning_effort` as a Gemini thinking budget, in tokens. Gemini 2.5 Flash
 * accepts budgets from 0 to 24576 (Gemini API thinking guide), so `high` is
 * its maximum. `none` turns thinking off, which Gemini 2.5 Pro rejects
 * because it always thinks. Every other value requests thought summaries
 * (`includeThoughts`), which are returned as `reasoning_content`.
 *
 * NOTE: the budgets were chosen for Gemini 2.5 models. Gemini 3 models are
 * tuned with `thinkingLevel`, which this adapter does not send.
 */
export const thinkingBudgetTable: Readonly<Record<string, number>> = {
  none: 0,
  minimal: 512,
  low: 2048,
  medium: 8192,
  high: 24576
}

const thinkingConfig = (effort: string): ThinkingConfig => {
  const budget = thinkingBudgetTable[effort]
  if (budget === undefined) {
    throw invalid(
      `'reasoning_effort' is '${effort}', which is not supported. Expected one of ${Object.keys(thinkingBudgetTable).join(", ")}.`,
      "reasoning_effort"
    )
  }
  return { thinkingBudget: budget, includeThoughts: budget > 0 }
}

// ---------------------------------------------------------------------------
// Response format
// ---------------------------------------------------------------------------

const responseFormatConfig = (format: NonNullable<ChatRequest["response_format"]>): GenerationConfig => {
  switch (format.type) {
    case "text":
      return {}
    case "json_object":
      return { responseMimeType: "application/json" }
    case "json_schema": {
      const jsonSchema = format.json_schema as { schema?: unknown } | undefined
      return jsonSchema?.schema === undefined
        ? { responseMimeType: "application/json" }
        : {
            responseMimeType: "application/json",
            responseSchema: toGeminiSchema(jsonSchema.schema, "response_format.json_schema.schema")
          }
    }
    default:
      throw invalid(
        `'response_format.type' is '${format.type}', which is not supported. Expected text, json_object or json_schema.`,
        "response_format.type"
      )
  }
}

// ---------------------------------------------------------------------------
// Generation config
// ---------------------------------------------------------------------------

// The declared fields of the request, without the index signature that keeps unknown fields.
type DeclaredField = keyof { [Name in keyof ChatRequest as string extends Name ? never : Name]: unknown }

type GenerationConfigConverters = {
  readonly [Name in DeclaredField]?: (value: NonNullable<ChatRequest[Name]>) => GenerationConfig
} & {
  /** `top_k` is outside OpenAI's schema, so the request schema does not check its value and the converter does. */
  readonly top_k?: (value: unknown) => GenerationConfig
}

const topKConfig = (value: unknown): GenerationConfig => {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
    throw invalid(`'top_k' is ${JSON.stringify(value)}, which is not supported. Expected a non-negative integer.`, "top_k")
  }
  return { topK: value }
}

/**
 * OpenAI request parameters and the `generationConfig` fields they set.
 * Entries apply in this order, so `max_completion_tokens` overrides
 * `max_tokens` when a request sets both. Null or absent parameters are
 * skipped. `top_k` is not OpenAI's but Anthropic's, and Gemini takes it as
 * `topK`. Parameters missing here have no Gemini equivalent and are not
 * sent: `parallel_tool_calls`, `user`, `logit_bias`, `logprobs`, `store`,
 * `metadata` and any unknown field.
 */
export const generationConfigTable: GenerationConfigConverters = {
  max_tokens: (value) => ({ maxOutputTokens: value }),
  max_completion_tokens: (value) => ({ maxOutputTokens: value }),
  temperature: (value) => ({ temperature: value }),
  top_p: (value) => ({ topP: value }),
  top_k: topKConfig,
  stop: (value) => ({ stopSequences: typeof value === "string" ? [value] : value }),
  n: (value) => ({ candidateCount: value }),
  seed: (value) => ({ seed: value }),
  presence_penalty: (value) => ({ presencePenalty: value }),
  frequency_penalty: (value) => ({ frequencyPenalty: value }),
  response_format: responseFormatConfig,
  reasoning_effort: (value) => ({ thinkingConfig: thinkingConfig(value) })
}

const generationConfig = (request: ChatRequest): GenerationConfig | undefined => {
  const config: GenerationConfig = {}
  for (const [name, convert] of Object.entries(generationConfigTable)) {
    const value = request[name]
    // Each converter takes the type of its own parameter, which the loop cannot express.
    if (value !== undefined && value !== null) Object.assign(config, (convert as (value: unknown) => GenerationConfig)(value))
  }
  return Object.keys(config).length > 0 ? config : undefined
}

// ---------------------------------------------------------------------------
// Tools
// ---------------------------------------------------------------------------

const functionDeclarations = (tools: NonNullable<ChatRequest["tools"]>): Array<FunctionDeclaration> =>
  tools.map((tool, index) => {
    const param = `tools[${index}]`
    if (tool.type !== "function" || tool.function === undefined) {
      throw invalid(`'${param}' has type '${tool.type}', but Gemini supports only function tools.`, `${param}.type`)
    }
    const { name, description } = tool.function
    const parameters =
      tool.function.parameters === undefined ? undefined : toGeminiSchema(tool.function.parameters, `${param}.function.parameters`)
    // Gemini rejects an OBJECT schema without properties, which is how a
    // function without parameters is declared in JSON Schema.
    const hasProperties = parameters !== undefined && Object.keys((parameters.properties as object | undefined) ?? {}).length > 0
    return {
      name,
      ...(description !== undefined && description !== null ? { description } : {}),
      ...(hasProperties ? { parameters } : {})
    }
  })

/** `tool_choice` strings as Gemini function calling modes. */
export const functionCallingModeTable: Readonly<Record<string, FunctionCallingMode>> = {
  none: "NONE",
  auto: "AUTO",
  required: "ANY"
}

const toolConfig = (choice: NonNullable<ChatRequest["tool_choice"]>): ToolConfig => {
  if (typeof choice === "string") {
    return { functionCallingConfig: { mode: functionCallingModeTable[choice]! } }
  }
  const name = (choice as { function?: { name?: unknown } }).function?.name
  if (choice.type !== "function" || typeof name !== "string") {
    throw invalid(
      "'tool_choice' must be none, auto, required or {\"type\": \"function\", \"function\": {\"name\": ...}} for Gemini.",
      "tool_choice"
    )
  }
  // A named function is forced by allowing only that one in ANY mode.
  return { functionCallingConfig: { mode: "ANY", allowedFunctionNames: [name] } }
}

// ---------------------------------------------------------------------------
// Request
// ---------------------------------------------------------------------------

const buildRequest = (request: ChatRequest): GenerateContentRequest => {
  const { contents, systemInstruction } = toGeminiContents(request.messages)
  const tools = request.tools ?? []
  const toolChoice = request.tool_choice ?? undefined
  const config = generationConfig(request)
  return {
    contents,
    ...(systemInstruction !== undefined ? { systemInstruction } : {}),
    ...(tools.length > 0 ? { tools: [{ functionDeclarations: functionDeclarations(tools) }] } : {}),
    ...(tools.length > 0 && toolChoice !== undefined ? { toolConfig: toolConfig(toolChoice) } : {}),
    ...(config !== undefined ? { generationConfig: config } : {})
  }
}

/**
 * Converts an OpenAI chat request to a Gemini `generateContent` body. The
 * model and `stream` are not part of the body: they select the URL. Fails
 * with `InvalidRequestError` naming the field Gemini cannot take.
 */
export const toGeminiRequest = (request: ChatRequest): Effect.Effect<GenerateContentRequest, InvalidRequestError> =>
  Effect.suspend(() => {
    try {
      return Effect.succeed(buildRequest(request))
    } catch (error) {
      // Anything but InvalidRequestError is a bug, so it becomes a defect.
      return error instanceof InvalidRequestError ? Effect.fail(error) : Effect.die(error)
    }
  })
