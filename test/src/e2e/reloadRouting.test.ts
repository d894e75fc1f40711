/**
 * Tests of the deployment cooldowns across a SIGHUP reload. The gateway runs as a child
 * process in front of a replaying upstream whose `primary` provider fails on demand.
 */
import OpenAI from "openai"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { startGatewayProcess, type GatewayProcess } from "../support/gatewayProcess.js"
import { startReplayUpstream, type ReplayUpstream } from "../support/replayUpstream.js"

interface ConfigOptions {
  readonly primaryKey?: string
  /** The key of the `other` provider, which no model of this configuration uses. */
  readonly otherKey?: string
}

const configText = (upstreamUrl: string, options: ConfigOptions = {}) => `server: { host: 127.0.0.1, port: 0, shutdownTimeout: 10 seconds }
usage: { sqlitePath: ./usage.db, flushInterval: 50 }
logging: { level: info }
providers:
  primary:
    use: "@fluxen/provider-openai"
    config: { baseUrl: "${upstreamUrl}/primary/v1", apiKey: "${options.primaryKey ?? "primary-key"}" }
  backup:
    use: "@fluxen/provider-openai"
    config: { baseUrl: "${upstreamUrl}/backup/v1", apiKey: backup-key }
  other:
    use: "@fluxen/provider-openai"
    config: { baseUrl: "${upstreamUrl}/other/v1", apiKey: "${options.otherKey ?? "other-key"}" }
models:
  cool-pair:
    strategy: ordered
    deployments:
      - { provider: primary, model: cooldown-model }
      - { provider: backup, model: cooldown-model }
routing:
  cooldown: { failures: 2, window: 1 minute, duration: 1 minute }
plugins: []
`

const unavailable = { status: 503, body: JSON.stringify({ error: { message: "The server is overloaded", type: "server_error", param: null, code: null } }) }

/** Returns the labels that the reload's log line in `log` lists under `field`, sorted. */
const reloadLabels = (log: string, field: string): Array<string> => {
  const line = log.split("\n").find((candidate) => candidate.includes(`message="Configuration reloaded"`)) ?? ""
  const match = new RegExp(`(?:^| )${field.replace(/\./g, "\\.")}=(\\S+)`).exec(line)
  return (match?.[1] ?? "").split(",").filter((label) => label !== "").sort()
}

describe("deployment cooldown on reload", () => {
  let upstream: ReplayUpstream
  let gateway: GatewayProcess
  let client: OpenAI

  beforeEach(async () => {
    upstream = await startReplayUpstream()
    gateway = await startGatewayProcess(configText(upstream.url))
    client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: "client-key", maxRetries: 0 })
  })

  afterEach(async () => {
    await gateway?.stop()
    await upstream?.close()
  })

  /** Sends one chat request to `cool-pair`, fails the first `failures` upstream calls with 503, and returns the providers called. */
  const ask = async (failures: number): Promise<Array<string>> => {
    const seen = upstream.requests.length
    for (let index = 0; index < failures; index++) upstream.enqueue(unavailable)
    upstream.enqueue({ fixture: "openai/chat-completions/text.json" })
    await client.chat.completions.create({ model: "cool-pair", messages: [{ role: "user", content: "hi" }] })
    return upstream.requests.slice(seen).map((request) => request.path.split("/")[1]!)
  }

  /** Puts `primary/cooldown-model` in cooldown: two requests in which it fails and `backup` succeeds. */
  const coolDownPrimary = async (): Promise<void> => {
    expect(await ask(1)).toEqual(["primary", "backup"])
    expect(await ask(1)).toEqual(["primary", "backup"])
    expect(await ask(0)).toEqual(["backup"])
    expect(gateway.output()).toContain("Deployment put in cooldown after repeated failures")
  }

  it("unrelated change keeps cooldown", async () => {
    await coolDownPrimary()

    const log = await gateway.reload(configText(upstream.url, { otherKey: "other-rotated-key" }))

    expect(reloadLabels(log, "plugins.restarted")).toEqual(["providers.other"])
    expect(await ask(0)).toEqual(["backup"])
  })

  it("restarted provider leaves cooldown", async () => {
    await coolDownPrimary()

    const log = await gateway.reload(configText(upstream.url, { primaryKey: "primary-rotated-key" }))

    expect(reloadLabels(log, "plugins.restarted")).toEqual(["providers.primary"])
    expect(await ask(0)).toEqual(["primary"])
  })
})
