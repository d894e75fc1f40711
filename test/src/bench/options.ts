/** Command-line options of `npm run bench`. */
import { workloadNames, type WorkloadName } from "./workloads.js"

export type TargetName = "direct" | "minimal" | "fluxen"

export const targetNames: ReadonlyArray<TargetName> = ["direct", "minimal", "fluxen"]

export interface BenchOptions {
  /** Measured window of each loaded case, in milliseconds. */
  readonly durationMs: number
  readonly warmupMs: number
  readonly connections: number
  /** Measured window of each single-connection case, in milliseconds; 0 skips those cases. */
  readonly unloadedDurationMs: number
  readonly unloadedWarmupMs: number
  readonly targets: ReadonlyArray<TargetName>
  readonly workloads: ReadonlyArray<WorkloadName>
  /** Whether Fluxen runs with the `@fluxen/analyzer` plugin. */
  readonly analyzer: boolean
  /** Whether to add a CPU-profiled Fluxen run. */
  readonly profile: boolean
  readonly profileWorkload: WorkloadName
  /** Whether the profiled run also profiles the minimal proxy, for a comparison by package. */
  readonly profileMinimal: boolean
  /** Whether a missed throughput target makes the exit status 1. */
  readonly check: boolean
  /** `taskset -c` lists; undefined picks the first allowed CPU for the proxy and the others for the client side. */
  readonly proxyCpus: string | undefined
  readonly clientCpus: string | undefined
  /** Network writes per streamed response from the mock upstream. */
  readonly streamWrites: number
  /** How long each case may wait for other processes to go quiet, in milliseconds; 0 does not wait. */
  readonly quietWaitMs: number
  /** Runs of each case; the report keeps the run that other processes disturbed least. */
  readonly repeat: number
}

export const usage = `Usage: npm run bench -- [options]

Measures requests/s, latency, CPU time and memory of three targets against
one local mock upstream: the mock itself (direct), a minimal Node proxy
(minimal) and Fluxen (fluxen), for a plain and a streamed chat completion.
Results go to stdout and to bench-results/bench-<time>.json.

Options:
  --duration SECONDS         measured time of each loaded case (default 10)
  --warmup SECONDS           warm-up before each loaded case (default 2)
  --connections N            concurrent connections of the loaded cases (default 64)
  --unloaded-duration SECONDS
                             measured time of each single-connection latency
                             case (default 3); 0 skips them
  --targets LIST             comma-separated subset of direct,minimal,fluxen
  --workloads LIST           comma-separated subset of plain,stream
  --no-analyzer              run Fluxen without the @fluxen/analyzer plugin
  --profile                  add a Fluxen run of the plain workload under
                             node --cpu-prof and summarize its self time
  --profile-workload NAME    profile the plain or the stream workload
                             (implies --profile)
  --profile-minimal          profile the minimal proxy too, on the same
                             workload, and compare the two by package in
                             CPU time per request (implies --profile)
  --check                    exit with status 1 when Fluxen misses a
                             throughput target (0.70 plain, 0.85 stream)
  --proxy-cpus LIST          taskset CPU list for the proxy under test
  --client-cpus LIST         taskset CPU list for the load generator and mock
  --stream-writes N          network writes per streamed response (default 4)
  --quiet-wait SECONDS       before each case, wait up to SECONDS for other
                             processes to use less than 10 % of a core
                             (default 0: start at once)
  --repeat N                 run each case N times and report the run during
                             which other processes used the least CPU
                             (default 1)
  --help                     print this help
`

const parseSeconds = (flag: string, value: string | undefined, minimum: number): number => {
  const seconds = Number(value)
  if (value === undefined || !Number.isFinite(seconds) || seconds < minimum) {
    throw new Error(`${flag} needs a number of seconds of at least ${minimum}, got ${value}.`)
  }
  return Math.round(seconds * 1000)
}

const parseCount = (flag: string, value: string | undefined): number => {
  const count = Number(value)
  if (value === undefined || !Number.isInteger(count) || count < 1) throw new Error(`${flag} needs a positive integer, got ${value}.`)
  return count
}

const parseSubset = <A extends string>(flag: string, value: string | undefined, allowed: ReadonlyArray<A>): Array<A> => {
  const names = (value ?? "").split(",").filter((name) => name !== "")
  const unknown = names.filter((name) => !allowed.includes(name as A))
  if (names.length === 0 || unknown.length > 0) {
    throw new Error(`${flag} needs a comma-separated list of ${allowed.join(", ")}, got ${value}.`)
  }
  return allowed.filter((name) => names.includes(name))
}

/** Parses the arguments after `run.js`; returns "help" for --help and throws on an invalid option. */
export const parseOptions = (argv: ReadonlyArray<string>): BenchOptions | "help" => {
  const options: { -readonly [K in keyof BenchOptions]: BenchOptions[K] } = {
    durationMs: 10_000,
    warmupMs: 2_000,
    connections: 64,
    unloadedDurationMs: 3_000,
    unloadedWarmupMs: 1_000,
    targets: targetNames,
    workloads: workloadNames,
    analyzer: true,
    profile: false,
    profileWorkload: "plain",
    profileMinimal: false,
    check: false,
    proxyCpus: undefined,
    clientCpus: undefined,
    streamWrites: 4,
    quietWaitMs: 0,
    repeat: 1
  }
  for (let index = 0; index < argv.length; index++) {
    const flag = argv[index]!
    const value = argv[index + 1]
    const takesValue = () => {
      index++
      return value
    }
    switch (flag) {
      case "--help":
      case "-h":
        return "help"
      case "--duration":
        options.durationMs = parseSeconds(flag, takesValue(), 0.1)
        break
      case "--warmup":
        options.warmupMs = parseSeconds(flag, takesValue(), 0)
        break
      case "--connections":
        options.connections = parseCount(flag, takesValue())
        break
      case "--unloaded-duration":
        options.unloadedDurationMs = parseSeconds(flag, takesValue(), 0)
        break
      case "--targets":
        options.targets = parseSubset(flag, takesValue(), targetNames)
        break
      case "--workloads":
        options.workloads = parseSubset(flag, takesValue(), workloadNames)
        break
      case "--no-analyzer":
        options.analyzer = false
        break
      case "--profile":
        options.profile = true
        break
      case "--profile-workload": {
        const name = takesValue()
        if (!workloadNames.includes(name as WorkloadName)) throw new Error(`${flag} needs one of ${workloadNames.join(", ")}, got ${name}.`)
        options.profileWorkload = name as WorkloadName
        options.profile = true
        break
      }
      case "--profile-minimal":
        options.profileMinimal = true
        options.profile = true
        break
      case "--check":
        options.check = true
        break
      case "--proxy-cpus":
        options.proxyCpus = takesValue()
        break
      case "--client-cpus":
        options.clientCpus = takesValue()
        break
      case "--stream-writes":
        options.streamWrites = parseCount(flag, takesValue())
        break
      case "--quiet-wait":
        options.quietWaitMs = parseSeconds(flag, takesValue(), 0)
        break
      case "--repeat":
        options.repeat = parseCount(flag, takesValue())
        break
      default:
        throw new Error(`Unknown option: ${flag}. Run with --help for the list.`)
    }
  }
  if ((options.proxyCpus === undefined) !== (options.clientCpus === undefined)) {
    throw new Error("--proxy-cpus and --client-cpus must be given together.")
  }
  return options
}
