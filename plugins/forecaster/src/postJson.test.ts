/** The failure messages of JSON POSTs, which name the receiver without calling it a provider. */
import { Effect, Either } from "effect"
import { createServer } from "node:net"
import { describe, expect, it } from "vitest"
import { postJson } from "./postJson.js"
import { fetchTransport } from "./testing/fetchTransport.js"

/** Returns a loopback port on which nothing listens. */
const closedPort = async (): Promise<number> => {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const port = (server.address() as { port: number }).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

describe("postJson", () => {
  it("unreachable webhook: plain message", async () => {
    const url = `http://127.0.0.1:${await closedPort()}/hook`

    const result = await Effect.runPromise(Effect.either(postJson(fetchTransport, { target: "forecast webhook", url, body: {}, timeoutMs: 2_000 })))

    expect(Either.isLeft(result)).toBe(true)
    const message = Either.isLeft(result) ? result.left.message : ""
    expect(message).toMatch(/^The POST to the forecast webhook failed: it could not be reached/)
    expect(message).not.toContain("upstream provider")
  })
})
