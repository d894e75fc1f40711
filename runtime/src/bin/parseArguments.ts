/** The command line of Fluxen's entry points, on Node and on Deno. */

export interface Arguments {
  readonly command: string | undefined
  readonly config: string
  readonly port: number | undefined
  readonly host: string | undefined
}

/** Parses `COMMAND [--config FILE] [--port N] [--host ADDRESS]`; returns the error message of an invalid argument. */
export const parseArguments = (argv: ReadonlyArray<string>): Arguments | string => {
  const [command, ...rest] = argv
  let config = "fluxen.yaml"
  let port: number | undefined
  let host: string | undefined
  for (let index = 0; index < rest.length; index++) {
    const argument = rest[index]!
    const value = rest[index + 1]
    if (argument === "--config" || argument === "-c") {
      if (value === undefined) return "--config needs a file path."
      config = value
      index++
    } else if (argument === "--port") {
      const parsed = Number(value)
      if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65535) return `--port needs a port number from 0 to 65535, got ${value}.`
      port = parsed
      index++
    } else if (argument === "--host") {
      if (value === undefined) return "--host needs an address."
      host = value
      index++
    } else if (command === "check-config" && !argument.startsWith("-")) {
      config = argument
    } else {
      return `Unknown argument: ${argument}`
    }
  }
  return { command, config, port, host }
}
