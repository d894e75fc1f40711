/**
 * Shared steps of the `@fluxen/policy` end-to-end tests. They build the
 * plugin section (the analyzer before the policy), hand-made chat replies
 * with a chosen usage, and a Redis key prefix per test. The "Redis
 * unreachable" cases get a Redis server of the test's own.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process"
import { randomBytes, randomUUID } from "node:crypto"
import { createServer } from "node:net"
import type { TestGateway } from "../support/gateway.js"

/** The Redis server the tests share; each test writes under its own key prefix. */
export const sharedRedisUrl = process.env.FLUXEN_TEST_REDIS_URL ?? "redis://127.0.0.1:6379"

/** Returns a new key in the format the policy plugin generates. */
export const newFluxenKey = (): string => `fx-${randomBytes(32).toString("base64url")}`

/** Returns a Redis key prefix no other test uses. */
export const newRedisPrefix = (): string => `fluxen:test:policy:${randomUUID()}:`

/**
 * Deletes every key under `prefix` on the Redis at `url`, with SCAN and DEL
 * through `redis-cli`, and never touches other keys.
 */
export const deleteRedisKeys = (url: string, prefix: string): void => {
  const scan = spawnSync("redis-cli", ["-u", url, "--scan", "--pattern", `${prefix}*`], { encoding: "utf8" })
  if (scan.status !== 0) throw new Error(`redis-cli --scan failed: ${scan.stderr}`)
  const keys = scan.stdout.split("\n").filter((key) => key !== "")
  for (let start = 0; start < keys.length; start += 100) {
    const deleted = spawnSync("redis-cli", ["-u", url, "DEL", ...keys.slice(start, start + 100)], { encoding: "utf8" })
    if (deleted.status !== 0) throw new Error(`redis-cli DEL failed: ${deleted.stderr}`)
  }
}

/** Lists the keys under `prefix`, for checks on what the plugin wrote. */
export const listRedisKeys = (url: string, prefix: string): Array<string> => {
  const scan = spawnSync("redis-cli", ["-u", url, "--scan", "--pattern", `${prefix}*`], { encoding: "utf8" })
  if (scan.status !== 0) throw new Error(`redis-cli --scan failed: ${scan.stderr}`)
  return scan.stdout.split("\n").filter((key) => key !== "")
}

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

export interface OwnRedis {
  readonly url: string
  readonly pid: number
  /** Stops the server by its pid and waits for it to exit. */
  readonly stop: () => Promise<void>
}

/** Starts a `redis-server` child without persistence on a free loopback port and waits until it replies to PING. */
export const startOwnRedis = async (): Promise<OwnRedis> => {
  const port = await freePort()
  const child: ChildProcess = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    { stdio: "ignore" }
  )
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  const url = `redis://127.0.0.1:${port}`
  const deadline = Date.now() + 5_000
  for (;;) {
    const ping = spawnSync("redis-cli", ["-u", url, "PING"], { encoding: "utf8" })
    if (ping.stdout.trim() === "PONG") break
    if (Date.now() > deadline) {
      child.kill("SIGKILL")
      throw new Error(`redis-server on port ${port} did not answer PING within 5 s`)
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  let stopped: Promise<void> | undefined
  return {
    url,
    pid: child.pid!,
    stop: () => {
      stopped ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, "SIGKILL")
        await exited
      })()
      return stopped
    }
  }
}

/** A chat completion whose usage has the given token counts. */
export const chatReply = (model: string, promptTokens: number, completionTokens: number): string =>
  JSON.stringify({
    id: `chatcmpl-${randomUUID()}`,
    object: "chat.completion",
    created: 1_770_000_000,
    model,
    choices: [{ index: 0, message: { role: "assistant", content: "Hi there." }, finish_reason: "stop" }],
    usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens }
  })

/**
 * The `plugins:` section: the analyzer, then the policy with `policyConfig`.
 * `prices` overrides model prices in both, because each estimates or
 * records cost from its own table. JSON is valid YAML, so values need no
 * escaping, and `${VAR}` references in strings are still substituted.
 */
export const policyPluginsYaml = (
  policyConfig: Record<string, unknown>,
  prices: Record<string, { readonly input: number; readonly output: number }> = {}
): string => {
  const pricing = { overrides: prices }
  return `plugins:
  - use: "@fluxen/analyzer"
    config: ${JSON.stringify({ pricing })}
  - use: "@fluxen/policy"
    failMode: closed
    config: ${JSON.stringify({ ...policyConfig, pricing })}
`
}

/** Sends a chat completion request with a key. */
export const postChat = (
  gateway: TestGateway,
  key: string | undefined,
  body: Record<string, unknown>,
  header: "authorization" | "x-api-key" = "authorization",
  signal?: AbortSignal
) =>
  fetch(`${gateway.url}/v1/chat/completions`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(key === undefined ? {} : header === "authorization" ? { authorization: `Bearer ${key}` } : { "x-api-key": key })
    },
    body: JSON.stringify(body),
    ...(signal === undefined ? {} : { signal })
  })

/** Sends an admin API request. */
export const adminRequest = (gateway: TestGateway, method: string, path: string, masterKey: string | undefined, body?: unknown) =>
  fetch(`${gateway.url}/v1/fluxen/admin${path}`, {
    method,
    headers: {
      ...(masterKey === undefined ? {} : { authorization: `Bearer ${masterKey}` }),
      ...(body === undefined ? {} : { "content-type": "application/json" })
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })
