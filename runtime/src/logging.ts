/** The log output chosen in the configuration's `logging` section. */
import { Layer, Logger, LogLevel } from "effect"

export interface LoggingOptions {
  readonly level: "debug" | "info" | "warning" | "error"
  readonly format: "logfmt" | "json" | "pretty"
}

const levels = { debug: LogLevel.Debug, info: LogLevel.Info, warning: LogLevel.Warning, error: LogLevel.Error } as const

// Effect's loggers print the id of the fiber that logged, which means nothing to an operator
// reading Fluxen's log, so the logfmt and JSON lines leave it out.
const logfmtWithoutFiber = Logger.map(Logger.logfmtLogger, (line) => line.replace(/ fiber=#\d+/, ""))

const jsonWithoutFiber = Logger.map(Logger.jsonLogger, (line) => {
  const { fiberId: _fiberId, ...rest } = JSON.parse(line) as Record<string, unknown>
  return JSON.stringify(rest)
})

const loggerOf = (format: LoggingOptions["format"]) => {
  switch (format) {
    case "json":
      return Logger.replace(Logger.defaultLogger, Logger.withConsoleLog(jsonWithoutFiber))
    case "pretty":
      return Logger.pretty
    case "logfmt":
      return Logger.replace(Logger.defaultLogger, Logger.withConsoleLog(logfmtWithoutFiber))
  }
}

export const layerLogging = (options: LoggingOptions) => Layer.merge(loggerOf(options.format), Logger.minimumLogLevel(levels[options.level]))
