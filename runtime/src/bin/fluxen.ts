#!/usr/bin/env node
/**
 * The `fluxen` command.
 *
 *   fluxen start [--config FILE] [--port N] [--host ADDRESS]
 *   fluxen check-config [FILE]
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { defaultTeardown } from "@effect/platform/Runtime"
import { Console, Effect, Runtime } from "effect"
import { checkConfigFile } from "../config/checkConfigFile.js"
import { layerLogging } from "../logging.js"
import { makeNodeImporter } from "../node/nodeImporter.js"
import { handleRepeatedStopSignals } from "../node/repeatedStopSignal.js"
import { startNodeGateway } from "../node/startNodeGateway.js"
import { lostRecordsExitStatus, type LostUsageRecords } from "../usage/lostRecordsExitStatus.js"
import { parseArguments, type Arguments } from "./parseArguments.js"

const usage = `Usage:
  fluxen start [--config FILE] [--port N] [--host ADDRESS]
      Starts the gateway. FILE defaults to ./fluxen.yaml; --port and --host override server.port and server.host.
  fluxen check-config [FILE]
      Validates a configuration file (default ./fluxen.yaml) and exits with status 1 when it is invalid.
`

const parsed = parseArguments(process.argv.slice(2))
if (typeof parsed === "string" || parsed.command === undefined || parsed.command === "--help" || parsed.command === "help") {
  if (typeof parsed === "string") console.error(parsed)
  console.error(usage)
  process.exit(typeof parsed === "string" || parsed.command === undefined ? 2 : 0)
}
const args = parsed as Arguments

const reportFailure = (error: { readonly message: string }) =>
  Effect.zipRight(Console.error(error.message), Effect.sync(() => (process.exitCode = 1)))

const checkOptions = {
  importerFor: (configDirectory: string) => makeNodeImporter({ configDirectory, workingDirectory: process.cwd() })
}

const checkConfig = checkConfigFile(args.config, process.env, checkOptions).pipe(
  Effect.flatMap(({ source }) => Console.log(`${source} is valid.`)),
  Effect.catchTag("ConfigError", reportFailure)
)

const start = Effect.gen(function* () {
  // The whole file is checked before the usage database opens, so an invalid file changes nothing on disk.
  const loaded = yield* checkConfigFile(args.config, process.env, checkOptions)
  yield* Effect.scoped(
    Effect.gen(function* () {
      // Added before the gateway, so it runs after the usage writer's last flush: a process that
      // lost usage records exits with status 1, which a supervisor or an operator can notice.
      let lostUsageRecords = (): LostUsageRecords => ({ dropped: 0, unrecordedRequests: 0 })
      yield* Effect.addFinalizer(() =>
        Effect.suspend(() => lostRecordsExitStatus(lostUsageRecords())).pipe(
          Effect.tap((status) => {
            if (status !== 0) process.exitCode = status
          }),
          Effect.flatMap((status) => Effect.logInfo("Fluxen stopped").pipe(Effect.annotateLogs("exit.status", status)))
        )
      )
      const running = yield* startNodeGateway(loaded, {
        ...(args.port === undefined ? {} : { port: args.port }),
        ...(args.host === undefined ? {} : { host: args.host })
      })
      lostUsageRecords = running.lostUsageRecords
      const runtime = yield* Effect.runtime<never>()
      // A reload lists every problem of the new file, as a start does, before it starts any plugin.
      const reload = running.reload(checkConfigFile(args.config, process.env, { ...checkOptions, reload: true }).pipe(Effect.provide(NodeFileSystem.layer)))
      const onHangup = () => {
        Runtime.runFork(runtime)(Effect.zipRight(Effect.logInfo("SIGHUP received; reloading the configuration"), reload))
      }
      process.on("SIGHUP", onHangup)
      // runMain's own listeners start the shutdown; these only log it, once.
      const onStop = (signal: NodeJS.Signals) => {
        process.off("SIGINT", onStop)
        process.off("SIGTERM", onStop)
        Runtime.runFork(runtime)(Effect.logInfo("Stop signal received; shutting down").pipe(Effect.annotateLogs("signal", signal)))
      }
      process.on("SIGINT", onStop)
      process.on("SIGTERM", onStop)
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          process.off("SIGHUP", onHangup)
          process.off("SIGINT", onStop)
          process.off("SIGTERM", onStop)
        })
      )
      return yield* Effect.never
    })
  ).pipe(Effect.provide(layerLogging(loaded.config.logging)))
}).pipe(
  Effect.catchTags({ ConfigError: reportFailure, PluginLoadError: reportFailure, ServerListenError: reportFailure }),
  Effect.tapErrorCause((cause) => Effect.logError("Fluxen failed to start", cause))
)

if (args.command === "check-config") {
  NodeRuntime.runMain(checkConfig.pipe(Effect.provide(NodeFileSystem.layer)), { disableErrorReporting: true })
} else if (args.command === "start") {
  handleRepeatedStopSignals()
  // The failure is logged above already, so runMain only sets the exit code.
  NodeRuntime.runMain(start.pipe(Effect.provide(NodeFileSystem.layer)), {
    disablePrettyLogger: true,
    disableErrorReporting: true,
    // A stop by signal counts as success, unless shutdown set a status of its own (lost usage records).
    teardown: (exit, onExit) => defaultTeardown(exit, (code) => onExit(code === 0 ? Number(process.exitCode ?? 0) : code))
  })
} else {
  console.error(`Unknown command: ${args.command}\n\n${usage}`)
  process.exit(2)
}
