/**
 * OpenAI chat messages converted to Gemini's `contents` and
 * `systemInstruction`.
 *
 * | OpenAI message                       | Gemini                                                  |
 * |--------------------------------------|---------------------------------------------------------|
 * | `system`, `developer`                | a text part of `systemInstruction`                      |
 * | `user`                               | a `user` turn                                           |
 * | `assistant` content                  | text parts of a `model` turn                            |
 * | `assistant` `tool_calls`             | `functionCall` parts of that `model` turn               |
 * | `tool` (and the legacy `function`)   | a `functionResponse` part of a `user` turn              |
 *
 * Consecutive messages that map to the same role are merged into one turn,
 * because Gemini expects the roles to alternate. That also puts the results
 * of parallel tool calls into one turn, as Gemini requires.
 */
import { InvalidRequestError, readThoughtSignature, type ChatMessage, type ContentPart } from "@fluxen/sdk"
import type { Content, JsonObject, RequestPart } from "./GeminiTypes.js"

export interface GeminiContents {
  readonly contents: ReadonlyArray<Content>
  readonly systemInstruction?: { readonly parts: ReadonlyArray<{ readonly text: string }> }
}

// ---------------------------------------------------------------------------
// Media
// ---------------------------------------------------------------------------

/** MIME types guessed from a URL's file extension, for `fileData` parts. */
export const mimeTypeByExtension: Readonly<Record<string, string>> = {
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  webp: "image/webp",
  gif: "image/gif",
  heic: "image/heic",
  heif: "image/heif",
  pdf: "application/pdf",
  mp3: "audio/mp3",
  wav: "audio/wav",
  mp4: "video/mp4"
}

/** MIME types of OpenAI's `input_audio.format` values. */
export const audioMimeTypeByFormat: Readonly<Record<string, string>> = {
  wav: "audio/wav",
  mp3: "audio/mp3"
}

// NOTE: an image URL without a known extension is sent as image/jpeg. Gemini
// may reject or misread it when the file has another type.
const DEFAULT_IMAGE_MIME_TYPE = "image/jpeg"

const dataUrlPattern = /^data:([^;,]+)((?:;[^;,]*)*),(.*)$/s

const invalid = (message: string, param: string): InvalidRequestError => new InvalidRequestError({ message, param })

/** Converts a `data:` URL to an `inlineData` part. Only base64 data URLs are accepted. */
const inlineDataPart = (url: string, param: string): RequestPart => {
  const match = dataUrlPattern.exec(url)
  if (match === null || !match[2]!.split(";").includes("base64")) {
    throw invalid(`The data URL in '${param}' is invalid. Expected data:<mime type>;base64,<data>.`, param)
  }
  return { inlineData: { mimeType: match[1]!, data: match[3]! } }
}

const guessMimeType = (url: string): string | undefined => {
  const path = url.split(/[?#]/, 1)[0]!
  const extension = /\.([A-Za-z0-9]+)$/.exec(path)?.[1]?.toLowerCase()
  return extension === undefined ? undefined : mimeTypeByExtension[extension]
}

/** Converts an image URL: a data URL is sent inline, an http(s) or gs URL by reference. */
const imagePart = (url: string, param: string): RequestPart => {
  if (url.startsWith("data:")) return inlineDataPart(url, param)
  if (/^(https?|gs):\/\//i.test(url)) {
    return { fileData: { mimeType: guessMimeType(url) ?? DEFAULT_IMAGE_MIME_TYPE, fileUri: url } }
  }
  throw invalid(`The image URL in '${param}' must be a data URL or an http(s) URL.`, param)
}

// ---------------------------------------------------------------------------
// Content parts
// ---------------------------------------------------------------------------

const field = (part: ContentPart, name: string): unknown => (part as Record<string, unknown>)[name]

const stringField = (value: unknown, name: string): string | undefined => {
  const record = typeof value === "object" && value !== null ? (value as Record<string, unknown>) : undefined
  return typeof record?.[name] === "string" ? (record[name] as string) : undefined
}

/** Converts one element of a user message's `content` array. */
const userPart = (part: ContentPart, param: string): RequestPart => {
  switch (part.type) {
    case "text": {
      const text = field(part, "text")
      if (typeof text !== "string") throw invalid(`'${param}.text' must be a string.`, `${param}.text`)
      return { text }
    }
    case "image_url": {
      const imageUrl = field(part, "image_url")
      const url = typeof imageUrl === "string" ? imageUrl : stringField(imageUrl, "url")
      if (url === undefined) throw invalid(`'${param}.image_url.url' is missing.`, `${param}.image_url.url`)
      return imagePart(url, `${param}.image_url.url`)
    }
    case "input_audio": {
      const audio = field(part, "input_audio")
      const data = stringField(audio, "data")
      const mimeType = audioMimeTypeByFormat[stringField(audio, "format") ?? ""]
      if (data === undefined || mimeType === undefined) {
        throw invalid(`'${param}.input_audio' needs base64 'data' and a 'format' of wav or mp3.`, `${param}.input_audio`)
      }
      return { inlineData: { mimeType, data } }
    }
    case "file": {
      const fileData = stringField(field(part, "file"), "file_data")
      if (fileData === undefined) {
        throw invalid(`'${param}.file' needs 'file_data' as a data URL, because uploaded file ids are not supported for Gemini.`, `${param}.file`)
      }
      return inlineDataPart(fileData, `${param}.file.file_data`)
    }
    default:
      throw invalid(`The content part type '${part.type}' in '${param}' is not supported for Gemini.`, `${param}.type`)
  }
}

/** Returns the text of a system, developer or assistant message, whose parts may only be text (or refusal). */
const textOf = (content: ChatMessage["content"], param: string): Array<string> => {
  if (content === undefined || content === null) return []
  if (typeof content === "string") return [content]
  return content.map((part, index) => {
    const text = part.type === "text" ? field(part, "text") : part.type === "refusal" ? field(part, "refusal") : undefined
    if (typeof text !== "string") {
      throw invalid(`'${param}[${index}]' must be a text part, because this message role accepts only text.`, `${param}[${index}]`)
    }
    return text
  })
}

/**
 * Converts a tool result to a `functionResponse.response`, which must be a
 * JSON object: a JSON object result is sent as it is, and anything else (JSON
 * of another type, or plain text) is wrapped as `{"result": ...}`.
 */
export const toFunctionResponse = (content: string): JsonObject => {
  let parsed: unknown
  try {
    parsed = JSON.parse(content)
  } catch {
    return { result: content }
  }
  return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? (parsed as JsonObject) : { result: parsed }
}

const parseArguments = (text: string, param: string): JsonObject => {
  if (text.trim() === "") return {}
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw invalid(`'${param}' is not valid JSON.`, param)
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw invalid(`'${param}' must be a JSON object.`, param)
  }
  return parsed as JsonObject
}

// ---------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------

const assistantParts = (message: ChatMessage, param: string, toolNames: Map<string, string>): Array<RequestPart> => {
  const texts = textOf(message.content, `${param}.content`).filter((text) => text !== "")
  // A signature that came on the message belongs to its last text part.
  const textSignature = readThoughtSignature(message)
  const parts: Array<RequestPart> = texts.map((text, index) =>
    textSignature !== undefined && index === texts.length - 1 ? { text, thoughtSignature: textSignature } : { text }
  )

  for (const [index, call] of (message.tool_calls ?? []).entries()) {
    const callParam = `${param}.tool_calls[${index}]`
    const args = parseArguments(call.function.arguments, `${callParam}.function.arguments`)
    const signature = readThoughtSignature(call)
    parts.push(
      signature === undefined
        ? { functionCall: { name: call.function.name, args } }
        : { functionCall: { name: call.function.name, args }, thoughtSignature: signature }
    )
    toolNames.set(call.id, call.function.name)
  }
  return parts
}

const toolResultPart = (message: ChatMessage, param: string, toolNames: ReadonlyMap<string, string>): RequestPart => {
  let name: string | undefined
  if (message.role === "function") {
    name = message.name ?? undefined
    if (name === undefined) throw invalid(`'${param}.name' is required on a function message.`, `${param}.name`)
  } else {
    if (message.tool_call_id === undefined) throw invalid(`'${param}.tool_call_id' is required on a tool message.`, `${param}.tool_call_id`)
    name = toolNames.get(message.tool_call_id)
    if (name === undefined) {
      throw invalid(
        `'${param}.tool_call_id' is '${message.tool_call_id}', which matches no tool call of an earlier assistant message. Gemini needs the function name, which is taken from that call.`,
        `${param}.tool_call_id`
      )
    }
  }
  const text = textOf(message.content, `${param}.content`).join("")
  return { functionResponse: { name, response: toFunctionResponse(text) } }
}

/**
 * Converts the messages of a chat request. Throws `InvalidRequestError` for
 * content Gemini cannot take, naming the message field.
 */
export const toGeminiContents = (messages: ReadonlyArray<ChatMessage>): GeminiContents => {
  const contents: Array<{ role: Content["role"]; parts: Array<RequestPart> }> = []
  const systemParts: Array<{ text: string }> = []
  // Tool call id to function name. Later calls replace earlier ones with the
  // same id, so a tool result is paired with the nearest call before it.
  const toolNames = new Map<string, string>()

  const append = (role: Content["role"], parts: ReadonlyArray<RequestPart>): void => {
    if (parts.length === 0) return
    const last = contents.at(-1)
    if (last?.role === role) last.parts.push(...parts)
    else contents.push({ role, parts: [...parts] })
  }

  for (const [index, message] of messages.entries()) {
    const param = `messages[${index}]`
    switch (message.role) {
      case "system":
      case "developer":
        for (const text of textOf(message.content, `${param}.content`)) if (text !== "") systemParts.push({ text })
        break
      case "user": {
        const content = message.content
        if (typeof content === "string") append("user", [{ text: content }])
        else if (Array.isArray(content)) append("user", content.map((part, partIndex) => userPart(part, `${param}.content[${partIndex}]`)))
        break
      }
      case "assistant":
        append("model", assistantParts(message, param, toolNames))
        break
      case "tool":
      case "function":
        append("user", [toolResultPart(message, param, toolNames)])
        break
    }
  }

  if (contents.length === 0) {
    throw invalid("'messages' must contain at least one user or assistant message, because Gemini does not accept a system prompt alone.", "messages")
  }
  return systemParts.length > 0 ? { contents, systemInstruction: { parts: systemParts } } : { contents }
}
