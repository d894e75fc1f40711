/**
 * The Deno entry point:
 *
 *   deno run -A --unstable-no-legacy-abort runtime/dist/deno/main.js start [--config FILE] [--port N] [--host ADDRESS]
 *
 * It serves the same gateway as the Node entry with `Deno.serve`, a fetch
 * transport and `node:sqlite`. SIGINT and SIGTERM shut it down as on Node
 * (see `serveDeno`): then the plugins close and the buffered usage is
 * written. The exit status is 1 when usage records were lost.
 */
import { Effect, Either, Exit } from "effect"
import * as Path from "node:path"
import { parseArguments, type Arguments } from "../bin/parseArguments.js"
import { parseConfig, type LoadedConfig } from "../config/loadConfig.js"
import { layerLogging } from "../logging.js"
import { lostRecordsExitStatus } from "../usage/lostRecordsExitStatus.js"
import { startWebGateway } from "../web/startWebGateway.js"
import { Deno, type StopSignal } from "./denoGlobal.js"
import { serveDeno } from "./serveDeno.js"

const usage = "Usage: deno run -A --unstable-no-legacy-abort runtime/dist/deno/main.js start [--config FILE] [--port N] [--host ADDRESS]"

/** Exit statuses of a process stopped by a signal: 128 plus the signal's number. */
const signalExitStatus: Readonly<Record<StopSignal, number>> = { SIGINT: 130, SIGTERM: 143 }

/**
 * Waits for SIGINT or SIGTERM. A second signal stops the process at once: the first one
 * replaces the listeners with ones that exit, because a registered listener keeps Deno from
 * ending the process itself. NOTE: Node ignores repeats within a second of the first signal,
 * which `npm start` causes (see `repeatedStopSignal.ts`); Deno is not started through npm.
 */
const waitForStopSignal = Effect.async<StopSignal>((resume) => {
  const listeners: Record<StopSignal, () => void> = {
    SIGINT: () => stopOn("SIGINT"),
    SIGTERM: () => stopOn("SIGTERM")
  }
  const removeListeners = () => {
    Deno.removeSignalListener("SIGINT", listeners.SIGINT)
    Deno.removeSignalListener("SIGTERM", listeners.SIGTERM)
  }
  const stopOn = (signal: StopSignal) => {
    removeListeners()
    // Added after this signal's dispatch, which would otherwise call a listener added during it.
    setTimeout(() => {
      Deno.addSignalListener("SIGINT", () => Deno.exit(signalExitStatus.SIGINT))
      Deno.addSignalListener("SIGTERM", () => Deno.exit(signalExitStatus.SIGTERM))
    }, 0)
    resume(Effect.succeed(signal))
  }
  Deno.addSignalListener("SIGINT", listeners.SIGINT)
  Deno.addSignalListener("SIGTERM", listeners.SIGTERM)
  return Effect.sync(removeListeners)
})

/** Serves until a stop signal, shuts down, and returns the exit status. */
const serve = (loaded: LoadedConfig, args: Arguments) =>
  Effect.gen(function* () {
    const { config } = loaded
    const lostUsageRecords = yield* Effect.scoped(
      Effect.gen(function* () {
        const web = yield* startWebGateway(loaded)
        const url = yield* serveDeno(web.gateway, web.handler, {
          host: args.host ?? config.server.host,
          port: args.port ?? config.server.port,
          shutdownTimeoutMs: config.server.shutdownTimeout
        })
        yield* Effect.logInfo("Fluxen is listening on Deno").pipe(
          Effect.annotateLogs({ url, providers: Object.keys(config.providers).join(","), storage: web.storage })
        )
        const signal = yield* waitForStopSignal
        yield* Effect.logInfo("Stop signal received; shutting down").pipe(Effect.annotateLogs("signal", signal))
        return web.lostUsageRecords
      })
    )
    // The scope has closed, so the usage writer has made its last flush.
    const status = yield* lostRecordsExitStatus(lostUsageRecords())
    yield* Effect.logInfo("Fluxen stopped").pipe(Effect.annotateLogs("exit.status", status))
    return status
  }).pipe(
    Effect.catchTags({
      PluginLoadError: (error) => Effect.as(Effect.sync(() => console.error(error.message)), 1),
      ServerListenError: (error) => Effect.as(Effect.sync(() => console.error(error.message)), 1)
    }),
    Effect.tapErrorCause((cause) => Effect.logError("Fluxen failed to start", cause)),
    Effect.provide(layerLogging(loaded.config.logging))
  )

const main = async (): Promise<number> => {
  const args = parseArguments(Deno.args)
  if (typeof args === "string" || args.command !== "start") {
    console.error(typeof args === "string" ? `${args}\n${usage}` : usage)
    return 2
  }
  const file = Path.resolve(args.config)
  const text = await Deno.readTextFile(file).catch((error: unknown) => new Error(`Cannot read the configuration file ${file}: ${String(error)}`))
  if (text instanceof Error) {
    console.error(text.message)
    return 1
  }
  const loaded = parseConfig(text, { source: file, directory: Path.dirname(file), env: Deno.env.toObject() })
  if (Either.isLeft(loaded)) {
    console.error(loaded.left.message)
    return 1
  }
  const exit = await Effect.runPromiseExit(serve(loaded.right, args))
  return Exit.isSuccess(exit) ? exit.value : 1
}

Deno.exit(await main())
