/**
 * The child processes of a benchmark run: starting them (pinned to CPUs with
 * `taskset` when it is available), waiting for their IPC messages and log
 * lines, stopping them by pid, and reading their CPU time and memory from
 * /proc.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process"
import { readFileSync } from "node:fs"
import * as Path from "node:path"
import type { ChildMessage, RunnerMessage } from "./protocol.js"

/** Lines of output kept per child, for error reports. */
const keptOutputLines = 100

export interface ChildOptions {
  /** Names the child in messages, e.g. "mock upstream". */
  readonly name: string
  /** A `taskset -c` CPU list; undefined runs the child unpinned. */
  readonly cpus: string | undefined
  readonly nodeArguments: ReadonlyArray<string>
  readonly script: string
  readonly scriptArguments: ReadonlyArray<string>
  readonly cwd?: string
  /**
   * An executable that starts node itself, as `runtime/bin/fluxen-node` does in the
   * container. It runs instead of `script`, and gets `nodeArguments` in FLUXEN_NODE_ARGS.
   */
  readonly launcher?: string
}

type MessageOf<T extends ChildMessage["type"]> = Extract<ChildMessage, { type: T }>

/** One running child process with an IPC channel. */
export class Child {
  readonly name: string
  readonly pid: number
  /** Resolves with the exit code, or the signal name, when the process exits. */
  readonly exited: Promise<number | string>
  private readonly process: ChildProcess
  private readonly output: Array<string> = []
  private readonly messages: Array<ChildMessage> = []
  private readonly listeners = new Set<() => void>()
  private exitStatus: number | string | undefined

  constructor(options: ChildOptions) {
    const launcher = options.launcher
    if (launcher !== undefined && options.nodeArguments.some((argument) => /\s/.test(argument))) {
      throw new Error(`Invalid Node option for the ${options.name}: the launcher gets its options space-separated, so no option may contain a space.`)
    }
    const nodeCommand =
      launcher === undefined
        ? [process.execPath, ...options.nodeArguments, options.script, ...options.scriptArguments]
        : [launcher, ...options.scriptArguments]
    const [command, ...args] = options.cpus === undefined ? nodeCommand : ["taskset", "-c", options.cpus, ...nodeCommand]
    // A launcher runs the first `node` on PATH, so the runner's own Node goes first.
    const env =
      launcher === undefined
        ? process.env
        : { ...process.env, PATH: `${Path.dirname(process.execPath)}:${process.env["PATH"] ?? ""}`, FLUXEN_NODE_ARGS: options.nodeArguments.join(" ") }
    this.name = options.name
    this.process = spawn(command!, args, { cwd: options.cwd, env, stdio: ["ignore", "pipe", "pipe", "ipc"] })
    if (this.process.pid === undefined) throw new Error(`Starting the ${options.name} failed: ${command} did not start.`)
    this.pid = this.process.pid
    liveChildren.add(this)

    for (const stream of [this.process.stdout!, this.process.stderr!]) {
      stream.setEncoding("utf8")
      let partial = ""
      stream.on("data", (text: string) => {
        const lines = (partial + text).split("\n")
        partial = lines.pop()!
        for (const line of lines) this.keepLine(line)
      })
    }
    this.process.on("message", (message: ChildMessage) => {
      this.messages.push(message)
      this.notify()
    })
    this.exited = new Promise((resolve) => {
      this.process.once("exit", (code, signal) => {
        this.exitStatus = code ?? signal ?? "unknown"
        liveChildren.delete(this)
        this.notify()
        resolve(this.exitStatus)
      })
    })
  }

  /** Returns the last lines the child wrote to stdout or stderr. */
  recentOutput(): string {
    return this.output.join("\n")
  }

  send(message: RunnerMessage): void {
    if (this.process.connected) this.process.send(message)
  }

  /** Waits for the next message of `type`; fails when the child exits first or `timeoutMs` passes. */
  nextMessage<T extends ChildMessage["type"]>(type: T, timeoutMs: number): Promise<MessageOf<T>> {
    return this.waitUntil(`a "${type}" message`, timeoutMs, () => {
      const index = this.messages.findIndex((message) => message.type === type)
      return index === -1 ? undefined : (this.messages.splice(index, 1)[0] as MessageOf<T>)
    })
  }

  /** Waits for an output line that matches `pattern` (read from the start) and returns its match. */
  outputLine(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    return this.waitUntil(`a line matching ${pattern}`, timeoutMs, () => {
      for (const line of this.output) {
        const match = line.match(pattern)
        if (match !== null) return match
      }
      return undefined
    })
  }

  /** Waits up to `timeoutMs` for the process to exit; returns its exit status, or undefined when it is still running. */
  async waitForExit(timeoutMs: number): Promise<number | string | undefined> {
    if (this.exitStatus !== undefined) return this.exitStatus
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs)))
    const outcome = await Promise.race([this.exited, deadline])
    clearTimeout(timer)
    return outcome
  }

  /** Sends `signal`, waits up to `graceMs` for the exit, then kills the process. Returns the exit status. */
  async stop(signal: NodeJS.Signals = "SIGTERM", graceMs = 10_000): Promise<number | string> {
    if (this.exitStatus !== undefined) return this.exitStatus
    killByPid(this.pid, signal)
    const status = await this.waitForExit(graceMs)
    if (status !== undefined) return status
    killByPid(this.pid, "SIGKILL")
    return this.exited
  }

  private keepLine(line: string): void {
    this.output.push(line)
    if (this.output.length > keptOutputLines) this.output.shift()
    this.notify()
  }

  private notify(): void {
    for (const listener of this.listeners) listener()
  }

  private waitUntil<A>(what: string, timeoutMs: number, find: () => A | undefined): Promise<A> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = find()
        if (found !== undefined) {
          finish()
          resolve(found)
        } else if (this.exitStatus !== undefined) {
          finish()
          reject(new Error(`The ${this.name} (pid ${this.pid}) exited with ${this.exitStatus} before sending ${what}. Its last output:\n${this.recentOutput()}`))
        }
      }
      const timer = setTimeout(() => {
        finish()
        reject(new Error(`The ${this.name} (pid ${this.pid}) sent no ${what} within ${timeoutMs} ms. Its last output:\n${this.recentOutput()}`))
      }, timeoutMs)
      const finish = () => {
        clearTimeout(timer)
        this.listeners.delete(check)
      }
      this.listeners.add(check)
      check()
    })
  }
}

const liveChildren = new Set<Child>()

const killByPid = (pid: number, signal: NodeJS.Signals): void => {
  try {
    process.kill(pid, signal)
  } catch (error) {
    // ESRCH: the process has already exited.
    if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error
  }
}

/** Kills every child that is still running, by pid. Safe to call from an `exit` handler. */
export const killRemainingChildren = (): void => {
  for (const child of liveChildren) killByPid(child.pid, "SIGKILL")
}

/** Stops every child that is still running, with SIGTERM first. */
export const stopRemainingChildren = async (): Promise<void> => {
  await Promise.all([...liveChildren].map((child) => child.stop("SIGTERM", 5_000)))
}

// ---------------------------------------------------------------------------
// /proc readers (Linux only)
// ---------------------------------------------------------------------------

/** Parses the `utime` and `stime` fields of a /proc/<pid>/stat line, in clock ticks, summed. */
export const parseCpuTicks = (statLine: string): number => {
  // The command name in field 2 may contain spaces and parentheses, so fields are counted from its closing bracket.
  const fields = statLine.slice(statLine.lastIndexOf(")") + 2).split(" ")
  // Fields 14 (utime) and 15 (stime), counted from 1, are at 11 and 12 after field 2.
  const utime = Number(fields[11])
  const stime = Number(fields[12])
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`Unexpected /proc stat line: ${statLine}`)
  return utime + stime
}

/** System-wide CPU time from the first line of /proc/stat, in clock ticks summed over all CPUs. */
export interface SystemCpuTicks {
  /** Time not idle and not waiting for I/O, steal excluded. */
  readonly busy: number
  /** Time the hypervisor gave to other virtual machines. */
  readonly steal: number
}

/** Parses the `cpu` line of /proc/stat: user nice system idle iowait irq softirq steal guest guest_nice. */
export const parseSystemCpuTicks = (procStat: string): SystemCpuTicks => {
  const line = procStat.split("\n").find((text) => text.startsWith("cpu "))
  if (line === undefined) throw new Error("/proc/stat has no cpu line.")
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number)
  // guest and guest_nice are already counted in user and nice.
  return { busy: user! + nice! + system! + irq! + softirq!, steal: steal ?? 0 }
}

export const readSystemCpuTicks = (): SystemCpuTicks => parseSystemCpuTicks(readFileSync("/proc/stat", "utf8"))

/** CPU time used by all threads of process `pid` so far, in clock ticks. */
export const readCpuTicks = (pid: number): number => parseCpuTicks(readFileSync(`/proc/${pid}/stat`, "utf8"))

export interface MemoryReading {
  readonly rssBytes: number
  /** The largest RSS since the process started. */
  readonly peakRssBytes: number
}

const kilobytesField = (status: string, field: string): number => {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)
  if (match === null) throw new Error(`/proc status has no ${field} field.`)
  return Number(match[1]) * 1024
}

export const readMemory = (pid: number): MemoryReading => {
  const status = readFileSync(`/proc/${pid}/status`, "utf8")
  return { rssBytes: kilobytesField(status, "VmRSS"), peakRssBytes: kilobytesField(status, "VmHWM") }
}

/** Returns the kernel's clock ticks per second (`getconf CLK_TCK`), the unit of /proc CPU times. */
export const clockTicksPerSecond = (): number => {
  const output = spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" })
  const ticks = Number(output.stdout?.trim())
  // NOTE: 100 is the value on every common Linux build; it is used only when getconf is missing.
  return output.status === 0 && Number.isInteger(ticks) && ticks > 0 ? ticks : 100
}

// ---------------------------------------------------------------------------
// CPU pinning
// ---------------------------------------------------------------------------

/** Expands a CPU list such as "0-3,6" into CPU numbers. */
export const parseCpuList = (list: string): Array<number> => {
  const cpus: Array<number> = []
  for (const part of list.trim().split(",")) {
    const [first, last] = part.split("-").map(Number)
    if (first === undefined || !Number.isInteger(first)) throw new Error(`Invalid CPU list: ${list}`)
    for (let cpu = first; cpu <= (last ?? first); cpu++) cpus.push(cpu)
  }
  return cpus
}

/** Returns the CPUs this process may run on, from /proc/self/status. */
export const allowedCpus = (): Array<number> => {
  const status = readFileSync("/proc/self/status", "utf8")
  const match = /^Cpus_allowed_list:\s+(\S+)/m.exec(status)
  if (match === null) throw new Error("/proc/self/status has no Cpus_allowed_list field.")
  return parseCpuList(match[1]!)
}

/** Whether `taskset` can run a command on `cpus`. */
export const tasksetWorks = (cpus: string): boolean => spawnSync("taskset", ["-c", cpus, "true"]).status === 0

/** Pins this process to `cpus`; returns false when taskset failed. */
export const pinThisProcess = (cpus: string): boolean =>
  spawnSync("taskset", ["-a", "-c", "-p", cpus, String(process.pid)], { stdio: "ignore" }).status === 0
