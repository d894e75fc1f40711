/** A webhook receiver on 127.0.0.1 that records every JSON POST and responds with queued statuses. */
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"

export interface WebhookServer {
  readonly url: string
  /** Parsed bodies of the received requests, in arrival order. */
  readonly received: Array<unknown>
  /** Sets the statuses of the next responses; later requests get 204. */
  readonly failNext: (...statuses: ReadonlyArray<number>) => void
  readonly close: () => Promise<void>
}

export const startWebhookServer = async (): Promise<WebhookServer> => {
  const received: Array<unknown> = []
  const statuses: Array<number> = []
  const server = createServer((request, response) => {
    const chunks: Array<Buffer> = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.on("end", () => {
      received.push(JSON.parse(Buffer.concat(chunks).toString("utf8")))
      response.writeHead(statuses.shift() ?? 204).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/hooks/forecast`,
    received,
    failNext: (...next) => {
      statuses.push(...next)
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections()
        server.close((error) => (error === undefined ? resolve() : reject(error)))
      })
  }
}
