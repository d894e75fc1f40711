import { afterAll, beforeAll, expect, it } from "vitest"
import { startHarness, type Harness, waitForRecords } from "./harness.js"

let h: Harness
beforeAll(async () => { h = await startHarness() })
afterAll(async () => { await h.close() })

it("smoke", async () => {
  h.upstream.enqueue({ fixture: "openai/chat-completions/text.json" })
  const r = await h.client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] })
  console.log(r.choices[0]?.message.content?.slice(0, 40))
  console.log(await waitForRecords(h.gateway, 1))
  console.log(h.upstream.requests[0])
})
