import { describe, expect, it } from "vitest"
import { ServerListenError } from "./ServerListenError.js"

const denied = (port: number) =>
  new ServerListenError({ host: "127.0.0.1", port, code: "EACCES", cause: new Error(`listen EACCES: permission denied 127.0.0.1:${port}`) })

describe("ServerListenError", () => {
  it("low port: privilege advice", () => {
    expect(denied(80).message).toContain("Ports below 1024 need extra privileges")
  })

  it("high port: no privilege advice", () => {
    const message = denied(8080).message

    expect(message).not.toContain("below 1024")
    expect(message).toContain("Cannot listen on 127.0.0.1:8080: the system denied permission")
  })
})
