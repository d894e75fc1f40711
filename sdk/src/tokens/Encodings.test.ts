import { describe, expect, it } from "vitest"
import { encodingForModel } from "./Encodings.js"

describe("encodingForModel", () => {
  it("uses cl100k_base for GPT-4 and GPT-3.5 models", () => {
    for (const model of ["gpt-4", "gpt-4-0613", "gpt-4-turbo", "gpt-3.5-turbo", "openai/gpt-3.5-turbo-instruct", "text-embedding-3-small"]) {
      expect(encodingForModel(model), model).toBe("cl100k_base")
    }
  })

  it("uses o200k_base for newer and other models", () => {
    for (const model of ["gpt-4o", "gpt-4o-mini-2024-07-18", "gpt-4.1-nano", "gpt-5-nano", "o3", "claude-sonnet-4-5", "gemini-2.5-pro"]) {
      expect(encodingForModel(model), model).toBe("o200k_base")
    }
  })
})
