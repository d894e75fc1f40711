/**
 * The Deno entry point: `deno run -A runtime/dist/deno/main.js start --config FILE`.
 * It serves the same gateway as the Node entry with `Deno.serve`, a fetch
 * transport and `node:sqlite`. SIGINT and SIGTERM stop accepting, let
 * in-flight requests finish (up to `server.shutdownTimeout`), then close
 * the plugins and write the buffered usage.
 */
import { Console, Effect, Either, Exit, Scope } from "effect"
import * as Path from "node:path"
import { parseConfig } from "../config/loadConfig.js"
import { layerLogging } from "../logging.js"
import { startWebGateway } from "../web/startWebGateway.js"

interface DenoServer {
  readonly finished: Promise<void>
  readonly addr: { readonly hostname: string; readonly port: number }
  shutdown(): Promise<void>
}

declare const Deno: {
  readonly args: ReadonlyArray<string>
  readonly env: { toObject(): Record<string, string> }
  readTextFile(path: string): Promise<string>
  serve(options: { hostname: string; port: number; onListen?: () => void }, handler: (request: Request) => Promise<Response>): DenoServer
  addSignalListener(signal: "SIGINT" | "SIGTERM", handler: () => void): void
  exit(code: number): never
}

const argumentValue = (name: string): string | undefined => {
  const index = Deno.args.indexOf(name)
  return index === -1 ? undefined : Deno.args[index + 1]
}

const main = async () => {
  if (Deno.args[0] !== "start") {
    console.error("Usage: deno run -A runtime/dist/deno/main.js start [--config FILE] [--port N]")
    Deno.exit(2)
  }
  const file = Path.resolve(argumentValue("--config") ?? "fluxen.yaml")
  const loaded = parseConfig(await Deno.readTextFile(file), { source: file, directory: Path.dirname(file), env: Deno.env.toObject() })
  if (Either.isLeft(loaded)) {
    console.error(loaded.left.message)
    Deno.exit(1)
  }
  const { config } = loaded.right
  const portArgument = argumentValue("--port")
  const logging = layerLogging(config.logging)
  const scope = Effect.runSync(Scope.make())
  const started = await Effect.runPromiseExit(
    Scope.extend(startWebGateway(loaded.right), scope).pipe(Effect.provide(logging))
  )
  if (Exit.isFailure(started)) {
    await Effect.runPromise(Console.error("Fluxen failed to start", started.cause))
    Deno.exit(1)
  }
  const { handler, gateway } = started.value

  const server = Deno.serve({ hostname: config.server.host, port: portArgument === undefined ? config.server.port : Number(portArgument) }, handler)
  await Effect.runPromise(
    Effect.logInfo("Fluxen is listening on Deno").pipe(
      Effect.annotateLogs({ url: `http://${server.addr.hostname}:${server.addr.port}` }),
      Effect.provide(logging)
    )
  )

  let stopping = false
  const stop = async () => {
    if (stopping) return
    stopping = true
    gateway.setReady(false)
    const deadline = new Promise<void>((resolve) => setTimeout(resolve, config.server.shutdownTimeout))
    await Promise.race([server.shutdown(), deadline])
    await Effect.runPromise(Scope.close(scope, Exit.void).pipe(Effect.provide(logging)))
    Deno.exit(0)
  }
  Deno.addSignalListener("SIGINT", stop)
  Deno.addSignalListener("SIGTERM", stop)
}

await main()
