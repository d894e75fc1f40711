/** Finding a TCP port for a gateway process that a test starts. */
import { createServer } from "node:net"

/** Returns a port on 127.0.0.1 that was free a moment ago, for a server the test starts next. */
export const freePort = async (): Promise<number> => {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const port = (server.address() as { port: number }).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}
