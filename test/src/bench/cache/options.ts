/** Command-line options of the cache benchmark, `node test/dist/bench/cache/run.js`. */

export type PartName = "throughput" | "interference" | "index"

export const partNames: ReadonlyArray<PartName> = ["throughput", "interference", "index"]

export interface CacheBenchOptions {
  readonly parts: ReadonlyArray<PartName>
  /** Measured window of each HTTP case, in milliseconds. */
  readonly durationMs: number
  readonly warmupMs: number
  /** Concurrent connections of the throughput cases. */
  readonly connections: number
  /** Rate of the pass-through requests whose latency the interference cases measure, in requests per second. */
  readonly passThroughRate: number
  /**
   * Rate of the semantic-cache misses that load the embedder, in requests per
   * second. Undefined keeps one miss in flight per onnx worker, and sends the
   * lexical case the miss rate the onnx case reached.
   */
  readonly embedRate: number | undefined
  /** Residual MatMul and Tanh rounds of the generated ONNX model. More rounds make each inference slower. */
  readonly onnxLayers: number
  /** `semantic.embedder.workers` of the `onnx` embedder. */
  readonly onnxWorkers: number
  /** Index sizes of the lookup timing, in vectors. */
  readonly indexSizes: ReadonlyArray<number>
  /** Queries of each kind per index size. */
  readonly indexQueries: number
  /** Overrides the index's `efConstruction` (default 64). A smaller value builds faster, with lower recall. */
  readonly efConstruction: number | undefined
  /** Wall-time limit of the index timing, in milliseconds. Sizes not finished by then are reported as missing. */
  readonly indexTimeLimitMs: number
  /** Whether to add CPU-profiled Fluxen runs of the hit and pass-through cases. */
  readonly profile: boolean
  /** Node options added before Fluxen's script in every case, e.g. `--single-threaded-gc`. */
  readonly fluxenNodeFlags: ReadonlyArray<string>
  /** `taskset -c` lists. Undefined puts Fluxen on the first allowed CPU and the clients on the others. */
  readonly proxyCpus: string | undefined
  readonly clientCpus: string | undefined
  /** How long each case may wait for other processes to go quiet, in milliseconds. 0 does not wait. */
  readonly quietWaitMs: number
  /** How many times an HTTP case that other processes disturbed is run again. The least disturbed run is kept. */
  readonly retries: number
}

export const usage = `Usage: node test/dist/bench/cache/run.js [options]

Measures the @fluxen/cache plugin in Fluxen against the main benchmark's
mock upstream, and the plugin's semantic index in process:
  throughput    cache hits against pass-through requests (cache-control:
                no-store) and misses, plain and streamed: requests/s and
                Fluxen CPU time per request
  interference  p99 latency of pass-through requests at a fixed rate, alone
                and while semantic-cache misses keep the onnx embedder busy,
                then with the same miss rate for the lexical embedder and
                for a control without the semantic cache
  index         semantic lookup time and recall@1 at 10,000 and 100,000
                vectors, through the plugin's HNSW index and an exact scan
Results go to stdout and to bench-results/cache-bench-<time>.json. The
default run takes about 5 minutes.

Options:
  --quick                    a run of about 2 minutes: 4 s windows, 1 s
                             warm-up, 200 index queries and the 100,000-vector
                             index built with efConstruction 16
  --parts LIST               comma-separated subset of throughput,
                             interference,index (default all)
  --duration SECONDS         measured time of each HTTP case (default 10)
  --warmup SECONDS           warm-up before each HTTP case (default 2)
  --connections N            connections of the throughput cases (default 64)
  --pass-through-rate N      pass-through requests per second in the
                             interference cases (default 200)
  --embed-rate N             semantic-cache misses per second that load the
                             embedder (default: as many as one miss in flight
                             per onnx worker allows, and the same rate for
                             lexical and the control)
  --onnx-layers N            layers of the generated ONNX model (default 32)
  --onnx-workers N           worker threads of the onnx embedder (default 2)
  --index-sizes LIST         comma-separated index sizes (default 10000,100000)
  --index-queries N          queries of each kind per size (default 500)
  --ef-construction N        efConstruction of the timed indexes (default:
                             the plugin's, 64)
  --index-time-limit SECONDS wall-time limit of the index timing (default 240)
  --fluxen-node-flags FLAGS  Node options for Fluxen, space-separated, e.g.
                             "--single-threaded-gc"
  --profile                  add runs of the hit and pass-through cases, plain
                             and streamed, with Fluxen under node --cpu-prof,
                             and print its CPU time per request by package
                             (adds about 1 minute)
  --proxy-cpus LIST          taskset CPU list for Fluxen and the index timing
  --client-cpus LIST         taskset CPU list for the load generators, mock
                             and runner
  --quiet-wait SECONDS       before each case, wait up to SECONDS for other
                             processes to use less than 10 % of a core
                             (default 0: start at once)
  --retries N                run an HTTP case again, up to N times, when
                             other processes used 10 % of a core or more
                             during it, and keep the least disturbed run
                             (default 1)
  --help                     print this help
`

const parseNumber = (flag: string, value: string | undefined, minimum: number, integer: boolean): number => {
  const number = Number(value)
  if (value === undefined || !Number.isFinite(number) || number < minimum || (integer && !Number.isInteger(number))) {
    throw new Error(`${flag} needs ${integer ? "an integer" : "a number"} of at least ${minimum}, got ${value}.`)
  }
  return number
}

const parseParts = (flag: string, value: string | undefined): Array<PartName> => {
  const names = (value ?? "").split(",").filter((name) => name !== "")
  const unknown = names.filter((name) => !partNames.includes(name as PartName))
  if (names.length === 0 || unknown.length > 0) {
    throw new Error(`${flag} needs a comma-separated list of ${partNames.join(", ")}, got ${value}.`)
  }
  return partNames.filter((name) => names.includes(name))
}

/** Parses the arguments after `run.js`. Returns "help" for --help and throws on an invalid option. */
export const parseOptions = (argv: ReadonlyArray<string>): CacheBenchOptions | "help" => {
  const options: { -readonly [K in keyof CacheBenchOptions]: CacheBenchOptions[K] } = {
    parts: partNames,
    durationMs: 10_000,
    warmupMs: 2_000,
    connections: 64,
    passThroughRate: 200,
    embedRate: undefined,
    onnxLayers: 32,
    onnxWorkers: 2,
    indexSizes: [10_000, 100_000],
    indexQueries: 500,
    efConstruction: undefined,
    indexTimeLimitMs: 240_000,
    profile: false,
    fluxenNodeFlags: [],
    proxyCpus: undefined,
    clientCpus: undefined,
    quietWaitMs: 0,
    retries: 1
  }
  // --quick sets defaults that later flags may override, so it is applied first wherever it appears.
  if (argv.includes("--quick")) {
    options.durationMs = 4_000
    options.warmupMs = 1_000
    options.indexQueries = 200
    options.efConstruction = 16
  }
  for (let index = 0; index < argv.length; index++) {
    const flag = argv[index]!
    const takeValue = () => argv[++index]
    switch (flag) {
      case "--help":
      case "-h":
        return "help"
      case "--quick":
        break
      case "--parts":
        options.parts = parseParts(flag, takeValue())
        break
      case "--duration":
        options.durationMs = Math.round(parseNumber(flag, takeValue(), 0.5, false) * 1000)
        break
      case "--warmup":
        options.warmupMs = Math.round(parseNumber(flag, takeValue(), 0, false) * 1000)
        break
      case "--connections":
        options.connections = parseNumber(flag, takeValue(), 1, true)
        break
      case "--pass-through-rate":
        options.passThroughRate = parseNumber(flag, takeValue(), 1, false)
        break
      case "--embed-rate":
        options.embedRate = parseNumber(flag, takeValue(), 1, false)
        break
      case "--onnx-layers":
        options.onnxLayers = parseNumber(flag, takeValue(), 0, true)
        break
      case "--onnx-workers":
        options.onnxWorkers = parseNumber(flag, takeValue(), 1, true)
        break
      case "--index-sizes": {
        const value = takeValue()
        const sizes = (value ?? "").split(",").map(Number)
        if (sizes.length === 0 || !sizes.every((size) => Number.isInteger(size) && size >= 10)) {
          throw new Error(`${flag} needs a comma-separated list of integers of at least 10, got ${value}.`)
        }
        options.indexSizes = sizes
        break
      }
      case "--index-queries":
        options.indexQueries = parseNumber(flag, takeValue(), 20, true)
        break
      case "--ef-construction":
        options.efConstruction = parseNumber(flag, takeValue(), 1, true)
        break
      case "--index-time-limit":
        options.indexTimeLimitMs = Math.round(parseNumber(flag, takeValue(), 1, false) * 1000)
        break
      case "--fluxen-node-flags": {
        const value = takeValue()
        if (value === undefined) throw new Error(`${flag} needs a space-separated list of Node options, got nothing.`)
        options.fluxenNodeFlags = value.split(" ").filter((part) => part !== "")
        break
      }
      case "--profile":
        options.profile = true
        break
      case "--proxy-cpus":
        options.proxyCpus = takeValue()
        break
      case "--client-cpus":
        options.clientCpus = takeValue()
        break
      case "--quiet-wait":
        options.quietWaitMs = Math.round(parseNumber(flag, takeValue(), 0, false) * 1000)
        break
      case "--retries":
        options.retries = parseNumber(flag, takeValue(), 0, true)
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
