import { spawn, type ChildProcess } from "node:child_process"
import { createRequire } from "node:module"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { startReplayUpstream, type ReplayUpstream } from "../support/replayUpstream.js"
import { waitFor } from "../support/waitFor.js"

const repository = fileURLToPath(new URL("../../../", import.meta.url))
// The binary itself, as in deno.test.ts, so that killing the child kills Deno.
const deno = (createRequire(import.meta.url)("deno/install_api.cjs") as { runInstall: () => string }).runInstall()
const probe = Path.join(repository, "test", "dist", "deno", "fetchTransportProbe.js")

/** Maximum wait for the upstream connection to close once the probe has ended its call, in milliseconds. */
const CLOSE_BOUND_MS = 5_000

// In Deno 2.9.6 an abort signal given to fetch stops reaching the response body after a garbage
// collection, so these cases close the upstream connection only if the transport cancels the body.
describe("fetch transport on Deno after a garbage collection", () => {
  let upstream: ReplayUpstream
  let child: ChildProcess | undefined

  beforeAll(async () => {
    upstream = await startReplayUpstream()
  })

  afterEach(() => {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
    child = undefined
  })

  afterAll(async () => {
    await upstream?.close()
  })

  const cases = [
    ["abort", "UpstreamUnreachableError"],
    ["idle", "UpstreamTimeoutError"],
    ["discard", "UpstreamUnreachableError"]
  ] as const

  it.each(cases)("%s closes the upstream connection", async (mode, expectedTag) => {
    // One event, then silence on an open connection.
    upstream.enqueue({
      headers: { "content-type": "text/event-stream" },
      body: "data: first\n\ndata: second\n\n",
      writes: "per-event",
      hangAfterWrites: 1
    })
    let output = ""
    const probeProcess = spawn(deno, ["run", "-A", "--v8-flags=--expose-gc", probe, `${upstream.url}/stream`, mode], {
      cwd: repository,
      env: { ...process.env, DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"]
    })
    child = probeProcess
    probeProcess.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()))
    probeProcess.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()))
    await waitFor(async () => output.includes("ending the call"), "the probe to end its call", () => output)

    const closed = await upstream.waitForAbort(upstream.requests.length - 1, CLOSE_BOUND_MS).then(
      () => "closed",
      (error: unknown) => String(error)
    )

    // The probe never exits by itself, so a closed connection was closed by the transport.
    expect(probeProcess.exitCode, output).toBeNull()
    expect(closed, output).toBe("closed")
    await waitFor(async () => output.includes("read failed:"), "the probe's read to fail", () => output)
    expect(output).toContain(`read failed: ${expectedTag}`)
  }, 60_000)
})
