/**
 * Translates the canonical (OpenAI-shaped) chat request into a Cohere Chat
 * API v2 body. Features Cohere has no equivalent for fail with
 * `InvalidRequestError` instead of being dropped silently. Request fields that
 * Cohere does not offer (`logprobs`, `logit_bias`, `user`, ...) are not sent.
 */
import { InvalidRequestError, type ChatMessage, type ChatRequest } from "@fluxen/sdk"
import type { CohereChatRequest, CohereContent, CohereMessage, CohereTool, CohereToolCall } from "./CohereApi.js"

type ContentPart = { readonly type: string; readonly [key: string]: unknown }

const textOf = (content: ChatMessage["content"], role: string): string => {
  if (content === undefined || content === null) return ""
  if (typeof content === "string") return content
  return content
    .map((part: ContentPart) => {
      if (part.type === "text" && typeof part.text === "string") return part.text
      throw new InvalidRequestError({
        message: `Cohere accepts only text content in ${role} messages, but one has a '${part.type}' part.`,
        param: "messages"
      })
    })
    .join("")
}

const userContent = (content: ChatMessage["content"]): CohereContent => {
  if (content === undefined || content === null) return ""
  if (typeof content === "string") return content
  return content.map((part: ContentPart) => {
    if (part.type === "text" && typeof part.text === "string") return { type: "text" as const, text: part.text }
    const imageUrl = (part.image_url as { url?: unknown } | undefined)?.url
    if (part.type === "image_url" && typeof imageUrl === "string") return { type: "image_url" as const, image_url: { url: imageUrl } }
    throw new InvalidRequestError({ message: `Cohere does not accept '${part.type}' content parts.`, param: "messages" })
  })
}

const toCohereMessage = (message: ChatMessage): CohereMessage => {
  switch (message.role) {
    case "system":
    case "developer":
      return { role: "system", content: textOf(message.content, message.role) }
    case "user":
      return { role: "user", content: userContent(message.content) }
    case "assistant": {
      const text = textOf(message.content, "assistant")
      const toolCalls: Array<CohereToolCall> = (message.tool_calls ?? []).map((call) => ({
        id: call.id,
        type: "function",
        function: { name: call.function.name, arguments: call.function.arguments }
      }))
      return {
        role: "assistant",
        ...(text === "" ? {} : { content: text }),
        ...(toolCalls.length === 0 ? {} : { tool_calls: toolCalls })
      }
    }
    case "tool":
      if (message.tool_call_id === undefined) {
        throw new InvalidRequestError({ message: "A tool message needs a tool_call_id.", param: "messages" })
      }
      return { role: "tool", tool_call_id: message.tool_call_id, content: textOf(message.content, "tool") }
    case "function":
      throw new InvalidRequestError({
        message: "Cohere does not accept legacy 'function' messages; send 'tool' messages instead.",
        param: "messages"
      })
  }
}

const toCohereTools = (tools: NonNullable<ChatRequest["tools"]>): Array<CohereTool> =>
  tools.map((tool) => {
    if (tool.type !== "function" || tool.function === undefined) {
      throw new InvalidRequestError({ message: `Cohere accepts only function tools, got a '${tool.type}' tool.`, param: "tools" })
    }
    const { name, description, parameters } = tool.function
    return {
      type: "function",
      function: { name, ...(description == null ? {} : { description }), ...(parameters == null ? {} : { parameters }) }
    }
  })

const toToolChoice = (choice: ChatRequest["tool_choice"]): CohereChatRequest["tool_choice"] => {
  if (choice == null || choice === "auto") return undefined
  if (choice === "none") return "NONE"
  if (choice === "required") return "REQUIRED"
  throw new InvalidRequestError({
    message: "Cohere cannot be made to call one named tool; use tool_choice 'auto', 'none' or 'required'.",
    param: "tool_choice"
  })
}

const toResponseFormat = (format: ChatRequest["response_format"]): CohereChatRequest["response_format"] => {
  if (format == null || format.type === "text") return undefined
  if (format.type === "json_object") return { type: "json_object" }
  if (format.type === "json_schema") {
    const schema = (format.json_schema as { schema?: unknown } | undefined)?.schema
    return schema === undefined ? { type: "json_object" } : { type: "json_object", json_schema: schema }
  }
  throw new InvalidRequestError({ message: `Cohere does not support response_format '${format.type}'.`, param: "response_format" })
}

/** Builds the Cohere body for `model`, the name after Fluxen's model mapping. Throws `InvalidRequestError`. */
export const toCohereRequest = (request: ChatRequest, model: string, stream: boolean): CohereChatRequest => {
  if (request.n !== undefined && request.n !== null && request.n > 1) {
    throw new InvalidRequestError({ message: "Cohere returns one choice per request; n must be 1.", param: "n" })
  }
  const maxTokens = request.max_completion_tokens ?? request.max_tokens
  const stop = typeof request.stop === "string" ? [request.stop] : request.stop
  const toolChoice = toToolChoice(request.tool_choice)
  const responseFormat = toResponseFormat(request.response_format)

  return {
    model,
    messages: request.messages.map(toCohereMessage),
    stream,
    ...(request.tools == null || request.tools.length === 0 ? {} : { tools: toCohereTools(request.tools) }),
    ...(toolChoice === undefined ? {} : { tool_choice: toolChoice }),
    ...(maxTokens === undefined || maxTokens === null ? {} : { max_tokens: maxTokens }),
    ...(request.temperature === undefined || request.temperature === null ? {} : { temperature: request.temperature }),
    ...(request.top_p === undefined || request.top_p === null ? {} : { p: request.top_p }),
    ...(stop === undefined || stop === null ? {} : { stop_sequences: stop }),
    ...(request.seed === undefined || request.seed === null ? {} : { seed: request.seed }),
    ...(request.frequency_penalty === undefined || request.frequency_penalty === null ? {} : { frequency_penalty: request.frequency_penalty }),
    ...(request.presence_penalty === undefined || request.presence_penalty === null ? {} : { presence_penalty: request.presence_penalty }),
    ...(responseFormat === undefined ? {} : { response_format: responseFormat })
  }
}
