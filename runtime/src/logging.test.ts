import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { layerLogging, type LoggingOptions } from "./logging.js"

/** Logs one info line through the configured layer and returns what reached the console. */
const printed = async (options: LoggingOptions): Promise<string> => {
  const lines: Array<string> = []
  const original = console.log
  console.log = (line: unknown) => lines.push(String(line))
  try {
    await Effect.runPromise(
      Effect.logInfo("Fluxen is listening").pipe(Effect.annotateLogs("url", "http://127.0.0.1:8080"), Effect.provide(layerLogging(options)))
    )
  } finally {
    console.log = original
  }
  return lines.join("\n")
}

describe("layerLogging", () => {
  it("logfmt lines without fiber ids", async () => {
    const line = await printed({ level: "info", format: "logfmt" })

    expect(line).toContain('message="Fluxen is listening"')
    expect(line).toContain("url=http://127.0.0.1:8080")
    expect(line).toContain("level=INFO")
    expect(line).not.toContain("fiber=")
  })

  it("JSON lines without fiber ids", async () => {
    const record = JSON.parse(await printed({ level: "info", format: "json" })) as Record<string, unknown>

    expect(record.message).toBe("Fluxen is listening")
    expect(record.annotations).toEqual({ url: "http://127.0.0.1:8080" })
    expect(record.logLevel).toBe("INFO")
    expect(record).not.toHaveProperty("fiberId")
  })

  it("drops lines below the level", async () => {
    expect(await printed({ level: "warning", format: "logfmt" })).toBe("")
  })
})
