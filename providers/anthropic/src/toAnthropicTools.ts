/**
 * OpenAI `tools`, `tool_choice` and `parallel_tool_calls` → Anthropic
 * `tools` and `tool_choice`, the tool part of `toAnthropicRequest`.
 */
import type { ChatRequest } from "@fluxen/sdk"
import type { Tool, ToolChoice } from "./MessagesApi.js"
import { readCacheControl } from "./toAnthropicMessages.js"
import { invalidField, isRecord } from "./validation.js"

const emptyObjectSchema = { type: "object", properties: {} }

/**
 * OpenAI function tools → Anthropic tools. `strict` is left out because
 * not every Claude model accepts strict tool use.
 */
export const translateTools = (request: ChatRequest): Array<Tool> =>
  (request.tools ?? []).map((tool, index) => {
    const param = `tools[${index}]`
    if (tool.type !== "function" || tool.function === undefined) {
      throw invalidField(`${param}.type`, `Invalid ${param}.type '${tool.type}': Anthropic models accept only function tools.`)
    }
    const fn = tool.function
    const translated: Record<string, unknown> = { name: fn.name, input_schema: fn.parameters ?? emptyObjectSchema }
    if (fn.description !== undefined && fn.description !== null) translated.description = fn.description
    const cache = readCacheControl(tool.cache_control ?? fn.cache_control)
    if (cache !== undefined) translated.cache_control = cache
    return translated as Tool
  })

const toolChoiceByName: Readonly<Record<string, ToolChoice["type"]>> = {
  auto: "auto",
  required: "any",
  none: "none"
}

/**
 * Maps `tool_choice` to Anthropic's `tool_choice`. `parallel_tool_calls: false`
 * becomes `disable_parallel_tool_use: true` (on `auto` when no choice was
 * given). Anthropic's `none` takes no such flag.
 */
export const translateToolChoice = (request: ChatRequest): ToolChoice | undefined => {
  const choice = request.tool_choice
  const disableParallel = request.parallel_tool_calls === false

  let type: ToolChoice["type"] | undefined
  let name: string | undefined
  if (choice === undefined || choice === null) {
    type = disableParallel ? "auto" : undefined
  } else if (typeof choice === "string") {
    type = toolChoiceByName[choice]
  } else if (choice.type === "function" && isRecord(choice.function) && typeof choice.function.name === "string") {
    type = "tool"
    name = choice.function.name
  } else {
    throw invalidField("tool_choice", "Invalid tool_choice: expected 'auto', 'required', 'none' or {type: 'function', function: {name}}.")
  }

  if (type === undefined) return undefined
  if (type === "none") return { type: "none" }
  const parallel = disableParallel ? { disable_parallel_tool_use: true } : {}
  return type === "tool" ? { type, name: name!, ...parallel } : { type, ...parallel }
}
