import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { createServer, type Server } from "node:net"
import { tmpdir } from "node:os"
import * as Path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { runStart } from "../support/runStart.js"

describe("fluxen start", () => {
  let blocker: Server | undefined
  let directory: string | undefined

  afterEach(async () => {
    await new Promise<void>((resolve) => (blocker === undefined ? resolve() : blocker.close(() => resolve())))
    if (directory !== undefined) rmSync(directory, { recursive: true, force: true })
  })

  it("reports a busy port once", async () => {
    const server = createServer()
    blocker = server
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    const port = (server.address() as { port: number }).port
    directory = mkdtempSync(Path.join(tmpdir(), "fluxen-port-"))
    const configPath = Path.join(directory, "fluxen.yaml")
    writeFileSync(
      configPath,
      `server: { host: 127.0.0.1, port: ${port} }
usage: { sqlitePath: ./usage.db }
providers:
  openai:
    use: "@fluxen/provider-openai"
`
    )

    const { status, output } = await runStart(configPath, directory)

    expect(status).toBe(1)
    const mentions = output.split("\n").filter((line) => line.includes(String(port)) || line.includes("EADDRINUSE"))
    expect(mentions).toEqual([
      `Cannot listen on 127.0.0.1:${port} because another process already uses that port. Stop that process, or choose another port with server.port in the configuration or --port.`
    ])
    expect(output).not.toContain("level=ERROR")
  })
})
