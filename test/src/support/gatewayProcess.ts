/** Runs the real `fluxen start` command in a child process, for tests that read its log. */
import { spawn } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as Path from "node:path"
import { cli } from "./runStart.js"
import { waitFor } from "./waitFor.js"

export interface GatewayProcess {
  /** The gateway's root URL, such as `http://127.0.0.1:41234`. */
  readonly url: string
  /** Everything the process wrote to stdout and stderr so far. */
  readonly output: () => string
  /**
   * Writes `config` over the configuration file, sends SIGHUP and waits until the log shows
   * that the reload took effect or failed. Returns what the process wrote since the signal.
   */
  readonly reload: (config: string) => Promise<string>
  /** Kills the process and removes its directory. */
  readonly stop: () => Promise<void>
}

/** The message of the reload's last log line, whether it took effect or not. */
const reloadOutcome = /message="(Configuration reloaded|[^"]*the running configuration stays in use)"/

/**
 * Writes `config` to `fluxen.yaml` in a new directory and starts the gateway on it. The
 * configuration must keep the logfmt format and set the log level to `info` or `debug`,
 * because the URL is read from the "Fluxen is listening" line. So `server.port: 0` works.
 */
export const startGatewayProcess = async (config: string): Promise<GatewayProcess> => {
  const directory = mkdtempSync(Path.join(tmpdir(), "fluxen-process-"))
  const configPath = Path.join(directory, "fluxen.yaml")
  writeFileSync(configPath, config)
  const child = spawn(process.execPath, [cli, "start", "--config", configPath], { cwd: directory, stdio: ["ignore", "pipe", "pipe"] })
  let output = ""
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()))
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()))
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL")
      await exited
    }
    rmSync(directory, { recursive: true, force: true })
  }

  const reload = async (nextConfig: string): Promise<string> => {
    const logStart = output.length
    writeFileSync(configPath, nextConfig)
    child.kill("SIGHUP")
    await waitFor(async () => reloadOutcome.test(output.slice(logStart)), "the reload to finish", () => output)
    return output.slice(logStart)
  }

  let url = ""
  try {
    await waitFor(
      async () => {
        const match = /message="Fluxen is listening" .*\burl=(\S+)/.exec(output)
        if (match !== null) url = match[1]!
        return url !== "" || child.exitCode !== null
      },
      "the gateway to start",
      () => output
    )
    if (url === "") throw new Error(`fluxen start exited with status ${child.exitCode}:\n${output}`)
  } catch (error) {
    await stop()
    throw error
  }
  return { url, output: () => output, reload, stop }
}
