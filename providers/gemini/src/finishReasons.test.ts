import { describe, expect, it } from "vitest"
import { toOpenAIFinishReason } from "./finishReasons.js"

const cases: ReadonlyArray<readonly [string, boolean, string]> = [
  ["STOP", false, "stop"],
  ["STOP", true, "tool_calls"],
  ["MAX_TOKENS", false, "length"],
  ["MAX_TOKENS", true, "length"],
  ["SAFETY", false, "content_filter"],
  ["RECITATION", false, "content_filter"],
  ["BLOCKLIST", false, "content_filter"],
  ["PROHIBITED_CONTENT", false, "content_filter"],
  ["SPII", false, "content_filter"],
  ["IMAGE_SAFETY", false, "content_filter"],
  ["SAFETY", true, "content_filter"],
  ["OTHER", false, "stop"],
  ["OTHER", true, "stop"],
  ["LANGUAGE", false, "stop"],
  ["MALFORMED_FUNCTION_CALL", false, "stop"],
  ["FINISH_REASON_UNSPECIFIED", false, "stop"],
  ["SOMETHING_NEW", false, "stop"]
]

describe("toOpenAIFinishReason", () => {
  for (const [reason, hasFunctionCalls, expected] of cases) {
    it(`${reason}${hasFunctionCalls ? " with function calls" : ""}`, () => {
      expect(toOpenAIFinishReason(reason, hasFunctionCalls)).toBe(expected)
    })
  }
})
