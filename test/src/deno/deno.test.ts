import { spawn, type ChildProcess } from "node:child_process"
import { createRequire } from "node:module"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import o200k from "gpt-tokenizer/encoding/o200k_base"
import OpenAI from "openai"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startReplayUpstream, type ReplayUpstream } from "../support/replayUpstream.js"

const repository = fileURLToPath(new URL("../../../", import.meta.url))
// The binary itself, because `.bin/deno` may be a Node wrapper that does not forward signals.
// The deno package's install API copies it out of the platform package when its install
// script has not run, without any download.
const deno = (createRequire(import.meta.url)("deno/install_api.cjs") as { runInstall: () => string }).runInstall()
const entry = Path.join(repository, "runtime", "dist", "deno", "main.js")

const freePort = async (): Promise<number> => {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const port = (server.address() as { port: number }).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

const waitForHealth = async (url: string, child: ChildProcess, output: () => string) => {
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`Deno exited with ${child.exitCode}:\n${output()}`)
    const healthy = await fetch(`${url}/healthz`).then((response) => response.ok, () => false)
    if (healthy) return
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  throw new Error(`Fluxen on Deno did not become healthy:\n${output()}`)
}

describe("runtime on Deno", () => {
  let upstream: ReplayUpstream
  let child: ChildProcess
  let directory: string
  let url: string
  let output = ""

  beforeAll(async () => {
    upstream = await startReplayUpstream()
    directory = mkdtempSync(Path.join(tmpdir(), "fluxen-deno-"))
    const port = await freePort()
    url = `http://127.0.0.1:${port}`
    writeFileSync(
      Path.join(directory, "fluxen.yaml"),
      `server: { host: 127.0.0.1, port: ${port} }
usage: { sqlitePath: ./usage.db, flushInterval: 50 }
logging: { level: warning }
providers:
  openai:
    use: "@fluxen/provider-openai"
    config: { baseUrl: "${upstream.url}/v1", apiKey: "sk-test-upstream-key" }
models:
  gpt-4o-mini: { provider: openai, model: gpt-4o-mini-2024-07-18 }
  gpt-4.1-nano: { provider: openai }
plugins:
  - use: "@fluxen/analyzer"
`
    )
    child = spawn(deno, ["run", "-A", entry, "start", "--config", Path.join(directory, "fluxen.yaml")], {
      cwd: repository,
      env: { ...process.env, DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"]
    })
    child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()))
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()))
    await waitForHealth(url, child, () => output)
  }, 90_000)

  afterAll(async () => {
    if (child !== undefined && child.exitCode === null) child.kill("SIGKILL")
    await upstream?.close()
    if (directory !== undefined) rmSync(directory, { recursive: true, force: true })
  })

  it("serves a plain and a streamed chat and records usage", async () => {
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "client-key", maxRetries: 0 })
    upstream.enqueue({ fixture: "openai/chat-completions/text.json" })
    const completion = await client.chat.completions.create({ model: "gpt-4.1-nano", messages: [{ role: "user", content: "hi" }] })
    expect(completion.usage?.prompt_tokens).toBe(16)

    upstream.enqueue({ fixture: "openai/chat-completions/text-stream-usage.sse", writes: { bytes: 7 } })
    const stream = await client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }], stream: true })
    let text = ""
    let chunks = 0
    for await (const chunk of stream) {
      chunks++
      text += chunk.choices[0]?.delta.content ?? ""
    }
    expect(chunks).toBeGreaterThan(1)
    expect(text.length).toBeGreaterThan(0)
    expect((upstream.requests.at(-1)!.json as { stream_options?: unknown }).stream_options).toEqual({ include_usage: true })

    // The writer flushes every 50 ms; wait for both records to land.
    let totals: Array<{ group: string; requests: number; promptTokens: number; completionTokens: number; costUsd: number }> = []
    const deadline = Date.now() + 10_000
    while (Date.now() < deadline) {
      const response = await fetch(`${url}/v1/fluxen/usage?group_by=model`)
      totals = ((await response.json()) as { data: typeof totals }).data
      if (totals.reduce((sum, total) => sum + total.requests, 0) === 2) break
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    const byModel = Object.fromEntries(totals.map((total) => [total.group, total]))
    expect(byModel["gpt-4.1-nano"]?.promptTokens).toBe(16)
    expect(byModel["gpt-4o-mini-2024-07-18"]?.promptTokens).toBe(78)
    expect(byModel["gpt-4o-mini-2024-07-18"]?.completionTokens).toBe(9)
    expect(byModel["gpt-4.1-nano"]?.costUsd).toBeGreaterThan(0)
  })

  // After the usage test, whose totals must count its two chats only.
  it("estimates a token count", async () => {
    const content = "How many tokens does this question take?"
    const response = await fetch(`${url}/v1/messages/count_tokens`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content }] })
    })

    expect(response.status).toBe(200)
    expect(response.headers.get("x-fluxen-token-count")).toBe("estimate")
    expect(await response.json()).toEqual({ input_tokens: o200k.encodeChat([{ role: "user", content }], "gpt-4o").length })
  })

  it("shuts down cleanly on SIGTERM", async () => {
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
    child.kill("SIGTERM")
    const code = await Promise.race([exited, new Promise<string>((resolve) => setTimeout(() => resolve("timeout"), 20_000))])
    expect(code).toBe(0)
  }, 30_000)
})
