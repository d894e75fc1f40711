/** Runs the real `fluxen start` command, as a user does, for tests of how it fails. */
import { spawn } from "node:child_process"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const repository = fileURLToPath(new URL("../../../", import.meta.url))

/** The compiled `fluxen` command. */
export const cli = Path.join(repository, "runtime", "dist", "bin", "fluxen.js")

/** Runs `fluxen start` until it exits and returns its status and both outputs. */
export const runStart = (configPath: string, cwd: string) =>
  new Promise<{ status: number | null; output: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [cli, "start", "--config", configPath], { cwd, stdio: ["ignore", "pipe", "pipe"] })
    let output = ""
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()))
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`fluxen start did not exit:\n${output}`))
    }, 30_000)
    child.on("exit", (status) => {
      clearTimeout(timer)
      resolve({ status, output })
    })
  })
