/** The field names whose values configuration messages hide. */
import { describe, expect, it } from "vitest"
import { secretName } from "./simplifyIssue.js"

describe("secretName", () => {
  it.each(["apiKey", "masterKey", "keys", "token", "accessToken", "tokens", "clientSecret", "password", "credentials"])(
    "hides %s",
    (name) => {
      expect(secretName.test(name)).toBe(true)
    }
  )

  it.each(["maxTokens", "defaultMaxTokens", "estimatedTokens", "model", "baseUrl", "keyCacheTtlSeconds"])("shows %s", (name) => {
    expect(secretName.test(name)).toBe(false)
  })
})
