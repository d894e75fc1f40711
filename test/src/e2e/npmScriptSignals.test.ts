/**
 * `npm start` and `npm run fluxen` run Fluxen through `sh -c`, and npm passes
 * SIGTERM and SIGINT to that shell. The shell must hand its place to node
 * (`exec`). Otherwise the shell dies, and Fluxen keeps running without a
 * parent, still holding its port.
 */
import { spawn, type ChildProcess } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { createServer, type Socket } from "node:net"
import { tmpdir } from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { freePort } from "../support/freePort.js"

const repository = fileURLToPath(new URL("../../../", import.meta.url))

const configText = (port: number, upstreamPort = 9) => `server: { host: 127.0.0.1, port: ${port}, shutdownTimeout: 5 seconds }
usage: { sqlitePath: ./usage.db }
providers:
  openai:
    use: "@fluxen/provider-openai"
    config: { baseUrl: "http://127.0.0.1:${upstreamPort}/v1", apiKey: "sk-test-unused" }
models:
  gpt-4o-mini: { provider: openai, model: gpt-4o-mini }
`

const answers = async (url: string): Promise<boolean> => {
  try {
    return (await fetch(`${url}/healthz`)).ok
  } catch {
    return false
  }
}

const waitUntil = async (check: () => Promise<boolean>, what: string, output: () => string): Promise<void> => {
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline) {
    if (await check()) return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`Timed out waiting for ${what}:\n${output()}`)
}

describe("npm run fluxen", () => {
  let directory: string
  let npm: ChildProcess | undefined
  let output = ""

  beforeEach(() => {
    directory = mkdtempSync(Path.join(tmpdir(), "fluxen-npm-script-"))
    output = ""
  })

  afterEach(() => {
    // Ends the whole process group the test started, whatever the outcome.
    if (npm?.pid !== undefined) {
      try {
        process.kill(-npm.pid, "SIGKILL")
      } catch {
        // The group has already exited.
      }
    }
    rmSync(directory, { recursive: true, force: true })
  })

  it("stops Fluxen on SIGTERM", { timeout: 120_000 }, async () => {
    const port = await freePort()
    const url = `http://127.0.0.1:${port}`
    const configPath = Path.join(directory, "fluxen.yaml")
    writeFileSync(configPath, configText(port))
    // Its own process group, so that the cleanup reaches a Fluxen that outlived npm.
    npm = spawn("npm", ["run", "--silent", "fluxen", "--", "start", "--config", configPath], {
      cwd: repository,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"]
    })
    npm.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()))
    npm.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()))
    const exited = new Promise<void>((resolve) => npm!.once("exit", () => resolve()))
    await waitUntil(() => answers(url), "Fluxen to start", () => output)

    npm.kill("SIGTERM")
    await exited
    await waitUntil(async () => !(await answers(url)), "Fluxen to stop", () => output)
    expect(await answers(url)).toBe(false)
  })

  // A terminal's Ctrl+C reaches the whole process group, and npm passes its own SIGINT on, so
  // Fluxen gets SIGINT twice within milliseconds. That must still be one graceful stop.
  it("drains on Ctrl+C to the group", { timeout: 120_000 }, async () => {
    // An upstream that accepts connections and never responds keeps a request in flight until the deadline.
    const sockets: Array<Socket> = []
    const upstream = createServer((socket) => sockets.push(socket))
    await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve))
    try {
      const port = await freePort()
      const url = `http://127.0.0.1:${port}`
      const configPath = Path.join(directory, "fluxen.yaml")
      writeFileSync(configPath, configText(port, (upstream.address() as { port: number }).port))
      npm = spawn("npm", ["run", "--silent", "fluxen", "--", "start", "--config", configPath], {
        cwd: repository,
        detached: true,
        stdio: ["ignore", "pipe", "pipe"]
      })
      npm.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()))
      npm.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()))
      const exited = new Promise<number | null>((resolve) => npm!.once("exit", (code) => resolve(code)))
      await waitUntil(() => answers(url), "Fluxen to start", () => output)

      const inFlight = fetch(`${url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] })
      })
      await waitUntil(async () => sockets.length > 0, "the upstream call", () => output)
      process.kill(-npm.pid!, "SIGINT")

      const response = await inFlight
      expect(response.status).toBe(503)
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe("shutting_down")
      await exited
      expect(output).toContain("Usage writer stopped")
      expect(output).not.toContain("again during shutdown")
    } finally {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => upstream.close(() => resolve()))
    }
  })

  it("second SIGINT later exits at once", { timeout: 120_000 }, async () => {
    const sockets: Array<Socket> = []
    const upstream = createServer((socket) => sockets.push(socket))
    await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve))
    try {
      const port = await freePort()
      const url = `http://127.0.0.1:${port}`
      const configPath = Path.join(directory, "fluxen.yaml")
      writeFileSync(configPath, configText(port, (upstream.address() as { port: number }).port))
      // Started directly, so that each signal reaches Fluxen once.
      npm = spawn(process.execPath, ["runtime/dist/bin/fluxen.js", "start", "--config", configPath], {
        cwd: repository,
        detached: true,
        stdio: ["ignore", "pipe", "pipe"]
      })
      npm.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()))
      npm.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()))
      const exited = new Promise<number | null>((resolve) => npm!.once("exit", (code) => resolve(code)))
      await waitUntil(() => answers(url), "Fluxen to start", () => output)

      const inFlight = fetch(`${url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] })
      }).catch((error: unknown) => error)
      await waitUntil(async () => sockets.length > 0, "the upstream call", () => output)
      npm.kill("SIGINT")
      // Past the window in which a repeat counts as the same stop, and well before the 5-second deadline.
      await new Promise((resolve) => setTimeout(resolve, 1_500))
      npm.kill("SIGINT")

      expect(await exited).toBe(130)
      expect(output).toContain("Received SIGINT again during shutdown")
      expect(output).not.toContain("Usage writer stopped")
      expect(await inFlight).toBeInstanceOf(Error)
    } finally {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => upstream.close(() => resolve()))
    }
  })
})
