import { Data } from "effect"

/** A failure of the HTTP server to listen on its host and port. */
export class ServerListenError extends Data.TaggedError("ServerListenError")<{
  readonly host: string
  readonly port: number
  /** Node's error code, e.g. `EADDRINUSE`. */
  readonly code: string | undefined
  readonly cause: Error
}> {
  override get message() {
    const address = `${this.host}:${this.port}`
    switch (this.code) {
      case "EADDRINUSE":
        return `Cannot listen on ${address} because another process already uses that port. Stop that process, or choose another port with server.port in the configuration or --port.`
      case "EACCES":
        return this.port > 0 && this.port < 1024
          ? `Cannot listen on ${address}: permission denied. Ports below 1024 need extra privileges, so choose a port from 1024 up with server.port or --port.`
          : `Cannot listen on ${address}: the system denied permission to use this port. Choose another port with server.port or --port.`
      case "EADDRNOTAVAIL":
        return `Cannot listen on ${address} because ${this.host} is not an address of this machine. Set server.host or --host to a local address such as 127.0.0.1 or 0.0.0.0.`
      default:
        return `Cannot listen on ${address}: ${this.cause.message}`
    }
  }
}
