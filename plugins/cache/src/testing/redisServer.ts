/**
 * A private redis-server child process for tests that stop, stall or
 * restart Redis, so that the shared server on port 6379 is never touched.
 */
import { spawn, type ChildProcess } from "node:child_process"
import { once } from "node:events"
import * as net from "node:net"
import { Redis } from "ioredis"

/** The shared Redis the other tests use; CI starts it on 127.0.0.1:6379. */
export const sharedRedisUrl = process.env.FLUXEN_TEST_REDIS_URL ?? "redis://127.0.0.1:6379"

/** A key prefix unique to one test, so that tests never read or delete each other's keys. */
export const uniqueKeyPrefix = (label: string) =>
  `fluxen-test:cache:${label}:${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}:`

/** Deletes every key under `prefix` on the shared Redis. */
export const deleteKeys = async (url: string, prefix: string): Promise<number> => {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 })
  await client.connect()
  try {
    let deleted = 0
    let cursor = "0"
    do {
      const [next, keys] = await client.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 500)
      cursor = next
      if (keys.length > 0) deleted += await client.del(...keys)
    } while (cursor !== "0")
    return deleted
  } finally {
    client.disconnect()
  }
}

/** Asks the OS for a free loopback port by binding port 0 and releasing it. */
export const freePort = async (): Promise<number> => {
  const server = net.createServer()
  server.listen(0, "127.0.0.1")
  await once(server, "listening")
  const address = server.address() as net.AddressInfo
  server.close()
  await once(server, "close")
  return address.port
}

/** Returns true when a Redis server on the port replies PONG to PING within `timeoutMs`. */
const repliesToPing = (port: number, timeoutMs: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port })
    const finish = (result: boolean) => {
      socket.destroy()
      resolve(result)
    }
    socket.setTimeout(timeoutMs, () => finish(false))
    socket.once("error", () => finish(false))
    socket.once("connect", () => socket.write("PING\r\n"))
    socket.once("data", (data) => finish(data.toString("latin1").startsWith("+PONG")))
  })

export interface RedisServer {
  readonly port: number
  readonly url: string
  readonly process: ChildProcess
  /** Stops this server (SIGTERM to its pid) and waits for it to exit. */
  readonly stop: () => Promise<void>
}

/** Starts `redis-server` without persistence on the given loopback port and waits until it replies to PING. */
export const startRedisServer = async (port: number): Promise<RedisServer> => {
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no"],
    { stdio: "ignore" }
  )
  const exited = once(child, "exit")
  const deadline = Date.now() + 10_000
  while (!(await repliesToPing(port, 200))) {
    if (child.exitCode !== null) throw new Error(`redis-server on port ${port} exited with code ${child.exitCode} at startup.`)
    if (Date.now() > deadline) {
      child.kill("SIGKILL")
      throw new Error(`redis-server on port ${port} did not reply to PING within 10 s.`)
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    process: child,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return
      // A stalled (SIGSTOP) server would never handle SIGTERM.
      child.kill("SIGCONT")
      child.kill("SIGTERM")
      await exited
    }
  }
}
