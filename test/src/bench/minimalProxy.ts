/**
 * The reference point for Fluxen's overhead: about the least a Node proxy
 * can do. A node:http server forwards each request to the upstream through
 * an undici Pool, piping the request body in and the response body out
 * without parsing either. Run by run.ts as a child process:
 *
 *   node minimalProxy.js UPSTREAM_URL [CONNECTIONS]
 *
 * It listens on a free loopback port, reports its URL over IPC, and exits
 * on SIGTERM, on SIGINT or when the runner disconnects.
 */
import { createServer, type IncomingHttpHeaders } from "node:http"
import type { AddressInfo } from "node:net"
import { Pool } from "undici"
import { sendToRunner } from "./protocol.js"

const upstreamUrl = process.argv[2]
// The default matches Fluxen's `upstream.connectionsPerOrigin`, so both proxies may open as many upstream connections.
const connections = Number(process.argv[3] ?? 256)
if (upstreamUrl === undefined || !Number.isInteger(connections) || connections < 1) {
  console.error("Usage: node minimalProxy.js UPSTREAM_URL [CONNECTIONS]")
  process.exit(2)
}

// Hop-by-hop headers and `host` describe one connection, so they are not forwarded.
const connectionHeaders = new Set(["connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "host"])

const forwardedHeaders = (headers: IncomingHttpHeaders): Record<string, string | Array<string>> => {
  const forwarded: Record<string, string | Array<string>> = {}
  for (const name in headers) {
    const value = headers[name]
    if (value !== undefined && !connectionHeaders.has(name)) forwarded[name] = value
  }
  return forwarded
}

const upstream = new Pool(upstreamUrl, { connections, keepAliveTimeout: 30_000 })

const server = createServer({ keepAliveTimeout: 65_000, requestTimeout: 0 }, (request, response) => {
  const controller = new AbortController()
  response.once("close", () => {
    if (!response.writableFinished) controller.abort()
  })

  upstream
    .stream(
      {
        method: request.method as "POST",
        path: request.url ?? "/",
        headers: forwardedHeaders(request.headers),
        body: request,
        signal: controller.signal
      },
      ({ statusCode, headers }) => {
        response.writeHead(statusCode, forwardedHeaders(headers as IncomingHttpHeaders))
        return response
      }
    )
    .catch((error: unknown) => {
      if (response.headersSent) {
        response.destroy(error as Error)
        return
      }
      response.writeHead(502, { "content-type": "text/plain" })
      response.end(`The upstream request failed: ${(error as Error).message}\n`)
    })
})

server.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as AddressInfo
  sendToRunner({ type: "listening", url: `http://127.0.0.1:${port}` })
})

// Exiting through process.exit lets `node --cpu-prof` write its profile.
process.on("disconnect", () => process.exit(0))
process.on("SIGTERM", () => process.exit(0))
process.on("SIGINT", () => process.exit(0))
