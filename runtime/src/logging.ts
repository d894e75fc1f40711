/** The log output chosen in the configuration's `logging` section. */
import { Layer, Logger, LogLevel } from "effect"

export interface LoggingOptions {
  readonly level: "debug" | "info" | "warning" | "error"
  readonly format: "logfmt" | "json" | "pretty"
}

const levels = { debug: LogLevel.Debug, info: LogLevel.Info, warning: LogLevel.Warning, error: LogLevel.Error } as const

export const layerLogging = (options: LoggingOptions) =>
  Layer.merge(
    options.format === "json" ? Logger.json : options.format === "pretty" ? Logger.pretty : Logger.logFmt,
    Logger.minimumLogLevel(levels[options.level])
  )
