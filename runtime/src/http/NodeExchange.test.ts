import * as Http from "node:http"
import * as Net from "node:net"
import type { AddressInfo } from "node:net"
import { afterEach, describe, expect, it, onTestFinished } from "vitest"
import { makeNodeExchange, openExchangesOf } from "./NodeExchange.js"

let server: Http.Server | undefined

afterEach(async () => {
  await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())))
  server = undefined
})

/** Starts a server whose handler streams through an exchange, and returns the raw bytes a client reads. */
const rawResponse = async (stream: (exchange: ReturnType<typeof makeNodeExchange>) => void): Promise<string> => {
  server = Http.createServer((request, response) => stream(makeNodeExchange(request, response, "openai")))
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  return new Promise((resolve, reject) => {
    const socket = Net.connect(port, "127.0.0.1", () => socket.write("POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"))
    let received = ""
    socket.on("data", (chunk: Buffer) => (received += chunk.toString("latin1")))
    socket.on("end", () => resolve(received))
    socket.on("error", reject)
  })
}

describe("NodeExchange streaming", () => {
  it("joins writes of one tick into one chunk", async () => {
    const raw = await rawResponse((exchange) => {
      exchange.startStream(200, { "content-type": "text/event-stream" })
      exchange.write("data: a\n\n")
      exchange.write("data: b\n\n")
      setImmediate(() => {
        exchange.write("data: c\n\n")
        exchange.end()
      })
    })
    const body = raw.slice(raw.indexOf("\r\n\r\n") + 4)

    expect(body).toBe("12\r\ndata: a\n\ndata: b\n\n\r\n9\r\ndata: c\n\n\r\n0\r\n\r\n")
  })

  it("sends text still pending with the end", async () => {
    const raw = await rawResponse((exchange) => {
      exchange.startStream(200, { "content-type": "text/event-stream" })
      exchange.write("data: last\n\n")
      exchange.end()
    })
    const body = raw.slice(raw.indexOf("\r\n\r\n") + 4)

    expect(body).toBe("c\r\ndata: last\n\n\r\n0\r\n\r\n")
  })

  it("cut-off stream: pending text, then error", async () => {
    let exchange: ReturnType<typeof makeNodeExchange> | undefined
    const raw = await rawResponse((created) => {
      exchange = created
      created.startStream(200, { "content-type": "text/event-stream" })
      created.write("data: a\n\n")
      void created.cutOff()
      created.write("data: after\n\n")
      created.end()
    })
    const body = raw.slice(raw.indexOf("\r\n\r\n") + 4)

    expect(body).toMatch(/^[0-9a-f]+\r\ndata: a\n\ndata: \{"error":\{/)
    expect(body).toContain('"code":"shutting_down"')
    expect(body).not.toContain("after")
    expect(body.endsWith("\n\n\r\n0\r\n\r\n")).toBe(true)
    expect(exchange!.departure.cancelled()).toBe(true)
  })

  it("cut-off before start: Anthropic 503", async () => {
    server = Http.createServer((request, response) => {
      const exchange = makeNodeExchange(request, response, "anthropic")
      expect(openExchangesOf(request.socket)).toEqual([exchange])
      void exchange.cutOff()
      expect(openExchangesOf(request.socket)).toEqual([])
    })
    await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve))
    const { port } = server.address() as AddressInfo
    const response = await fetch(`http://127.0.0.1:${port}/v1/messages`, { method: "POST", body: "{}" })

    expect(response.status).toBe(503)
    expect(response.headers.get("connection")).toBe("close")
    expect(await response.json()).toEqual({
      type: "error",
      error: { type: "api_error", message: "Fluxen is shutting down and stopped this request before it finished. Send it again." }
    })
  })
})

describe("NodeExchange pipelined requests", () => {
  it("tracks open exchanges oldest first", async () => {
    const exchanges: Array<ReturnType<typeof makeNodeExchange>> = []
    let socket: Net.Socket | undefined
    const allArrived = new Promise<void>((resolve) => {
      server = Http.createServer((request, response) => {
        socket = request.socket
        exchanges.push(makeNodeExchange(request, response, "openai"))
        if (exchanges.length === 3) resolve()
      })
    })
    await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve))
    const { port } = server.address() as AddressInfo
    const client = Net.connect(port, "127.0.0.1", () => {
      const request = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
      client.write(request + request + request)
    })
    let received = ""
    client.setEncoding("latin1")
    client.on("data", (chunk: string) => (received += chunk))
    // Destroyed in any case, because the server does not close while the connection is open.
    onTestFinished(() => {
      client.destroy()
    })
    await allArrived
    const [first, second, third] = exchanges

    expect(openExchangesOf(socket!)).toEqual([first, second, third])
    // Ended, but its response waits behind the first, so it stays open.
    third!.send(200, { "content-type": "text/plain" }, "third")
    expect(openExchangesOf(socket!)).toEqual([first, second, third])
    void second!.cutOff()
    expect(openExchangesOf(socket!)).toEqual([first, third])
    let thirdClosed = false
    void third!.cutOff().then(() => (thirdClosed = true))
    expect(openExchangesOf(socket!)).toEqual([first])
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(thirdClosed).toBe(false)

    first!.send(200, { "content-type": "text/plain" }, "first")
    // The responses go out in the order of their requests, and the 503 keeps the connection open for the third.
    const statuses = () => [...received.matchAll(/HTTP\/1\.1 (\d+)/g)].map((match) => match[1])
    await waitFor(() => statuses().length === 3)
    expect(statuses()).toEqual(["200", "503", "200"])
    expect(received).not.toContain("Connection: close")
    await waitFor(() => thirdClosed)
    expect(thirdClosed).toBe(true)
    expect(openExchangesOf(socket!)).toEqual([])
  })
})

/**
 * Starts a server that hands each exchange to `handle`, sends a request and closes the
 * connection before any response. `declaredLength` above 2 leaves the body incomplete.
 */
const leaveEarly = async (handle: (exchange: ReturnType<typeof makeNodeExchange>) => void, declaredLength = 2): Promise<void> => {
  server = Http.createServer((request, response) => handle(makeNodeExchange(request, response, "openai")))
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  const socket = Net.connect(port, "127.0.0.1", () => {
    socket.write(`POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${declaredLength}\r\n\r\n{}`)
    setTimeout(() => socket.destroy(), 50)
  })
}

const waitFor = async (condition: () => boolean) => {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 5))
}

describe("NodeExchange client departure", () => {
  it("signal read early: aborted on leaving", async () => {
    let signal: AbortSignal | undefined
    let exchange: ReturnType<typeof makeNodeExchange> | undefined
    await leaveEarly((made) => {
      exchange = made
      signal = made.clientGone
    })
    await waitFor(() => signal?.aborted === true)

    expect(signal?.aborted).toBe(true)
    expect(exchange?.departure.cancelled()).toBe(true)
  })

  it("signal read late: already aborted", async () => {
    let exchange: ReturnType<typeof makeNodeExchange> | undefined
    await leaveEarly((made) => {
      exchange = made
    })
    await waitFor(() => exchange?.departure.cancelled() === true)

    expect(exchange?.departure.cancelled()).toBe(true)
    expect(exchange?.clientGone.aborted).toBe(true)
  })

  it("completed response: signal not aborted", async () => {
    let exchange: ReturnType<typeof makeNodeExchange> | undefined
    await rawResponse((made) => {
      exchange = made
      made.send(200, { "content-type": "text/plain" }, "done")
    })

    expect(exchange?.departure.cancelled()).toBe(false)
    expect(exchange?.clientGone.aborted).toBe(false)
  })

  it("rejects a body cut short as unreadable", async () => {
    let read: Promise<unknown> | undefined
    await leaveEarly((made) => {
      read = made.readBody(1_000).catch((error: unknown) => error)
    }, 10)
    await waitFor(() => read !== undefined)

    expect(await read).toMatchObject({ _tag: "InvalidRequestError", code: "invalid_body" })
  })

  it("departure: every watcher called", async () => {
    const called: Array<string> = []
    let exchange: ReturnType<typeof makeNodeExchange> | undefined
    await leaveEarly((made) => {
      exchange = made
      const stopFirst = made.departure.watch(() => {
        called.push("first")
        stopFirst()
      })
      made.departure.watch(() => {
        called.push("second")
        stopThird()
      })
      const stopThird = made.departure.watch(() => called.push("third"))
      made.departure.watch(() => called.push("fourth"))
    })
    await waitFor(() => exchange?.departure.cancelled() === true)

    expect(called).toEqual(["first", "second", "fourth"])
  })
})
