/**
 * Shared steps of the end-to-end tests: a gateway in front of a replaying
 * upstream, an OpenAI client pointed at it, and readers for the values the
 * tests compare against the recorded fixtures.
 */
import OpenAI from "openai"
import { readFileSync } from "node:fs"
import type { UsageRecord } from "@fluxen/runtime"
import { fixturesDir } from "../support/fixtures.js"
import { startTestGateway, type TestGateway, type TestGatewayOptions } from "../support/gateway.js"
import { startReplayUpstream, type ReplayUpstream } from "../support/replayUpstream.js"

/** The key the generated configuration sends upstream; it must never reach a client. */
export const UPSTREAM_API_KEY = "sk-test-upstream-key"

/** Plugin section that loads no plugin, for tests that must not depend on the analyzer. */
export const NO_PLUGINS = "plugins: []"

export interface Harness {
  readonly upstream: ReplayUpstream
  readonly gateway: TestGateway
  readonly client: OpenAI
  readonly close: () => Promise<void>
}

/** Starts a replaying upstream and a gateway in front of it, with an OpenAI client that never retries. */
export const startHarness = async (options: Omit<TestGatewayOptions, "upstreamUrl"> = {}): Promise<Harness> => {
  const upstream = await startReplayUpstream()
  let gateway: TestGateway
  try {
    gateway = await startTestGateway({ ...options, upstreamUrl: upstream.url })
  } catch (error) {
    await upstream.close()
    throw error
  }
  return {
    upstream,
    gateway,
    client: makeClient(gateway),
    close: async () => {
      await gateway.close()
      await upstream.close()
    }
  }
}

/**
 * Creates an OpenAI client for the gateway. Retries are off, because a
 * retried request would take the next reply queued on the upstream.
 */
export const makeClient = (gateway: TestGateway): OpenAI =>
  new OpenAI({ baseURL: gateway.baseURL, apiKey: "sk-client-key", maxRetries: 0 })

/** Reads a fixture file as UTF-8 text. */
export const fixtureText = (path: string): string => readFileSync(new URL(path, fixturesDir), "utf8")

/** Reads a fixture file as bytes. */
export const fixtureBytes = (path: string): Buffer => readFileSync(new URL(path, fixturesDir))

/** Reads a whole-JSON fixture. */
export const fixtureJson = <A = any>(path: string): A => JSON.parse(fixtureText(path)) as A

/**
 * Returns the JSON payloads of an SSE fixture in order, without `[DONE]`.
 * The OpenAI recordings frame every event as one `data:` line, so a line
 * scan is enough here and stays independent of the gateway's SSE parser.
 */
export const ssePayloads = (path: string): Array<any> =>
  fixtureText(path)
    .split(/\r?\n/)
    .filter((line) => line.startsWith("data: ") && line !== "data: [DONE]")
    .map((line) => JSON.parse(line.slice("data: ".length)))

/** Concatenates the `delta.content` of every chat chunk in a chat SSE fixture. */
export const chatFixtureText = (path: string): string =>
  ssePayloads(path)
    .flatMap((chunk) => chunk.choices ?? [])
    .map((choice: any) => choice.delta?.content ?? "")
    .join("")

/**
 * Returns the usage records once at least `count` exist. A record is written
 * when its request's fiber ends, which can be after the client saw the end
 * of the response, so this polls until `timeoutMs`.
 */
export const waitForRecords = async (
  gateway: TestGateway,
  count: number,
  timeoutMs = 5000
): Promise<ReadonlyArray<UsageRecord>> => {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const records = await gateway.usageRecords()
    if (records.length >= count) return records
    if (performance.now() > deadline) {
      throw new Error(`Expected ${count} usage records within ${timeoutMs} ms, found ${records.length}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

/** Sends a JSON body with fetch, for checks on raw status, headers and bytes. */
export const postJson = (gateway: TestGateway, path: string, body: unknown): Promise<Response> =>
  fetch(`${gateway.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer sk-client-key" },
    body: typeof body === "string" ? body : JSON.stringify(body)
  })
