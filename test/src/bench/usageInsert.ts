/**
 * Benchmarks usage inserts. Run it with `node test/dist/bench/usageInsert.js`, and with --help
 * for the options. It drives the real `UsageStore` through `UsageDatabase.layer` against a SQLite
 * file and a PostgreSQL schema and prints this process's CPU time (user + system) per stored
 * record. It also compares primary-key inserts of random (version 4) and time-ordered
 * (version 7) request ids, and the time to generate each kind of id.
 *
 * NOTE: for PostgreSQL only the client side is measured, because the server's work runs in
 * other processes. The wall time per record includes the server's.
 */
import { newRequestId, UsageDatabase, UsageStore, type UsageDatabaseOptions, type UsageRecord } from "@fluxen/runtime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import { randomUUID } from "node:crypto"
import { mkdtempSync, rmSync, statSync } from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { setTimeout as sleep } from "node:timers/promises"
import Pg from "pg"
import { seededRandom } from "./cache/requests.js"

type DatabaseKind = "sqlite" | "postgres"
type IdKind = "v4" | "v7"

interface Options {
  readonly databases: ReadonlyArray<DatabaseKind>
  readonly rounds: number
  readonly pacedSeconds: number
  readonly idRecords: number
  readonly postgresUrl: string
}

const usage = `Usage: node test/dist/bench/usageInsert.js [options]

Prints the CPU time of this process per usage record stored by UsageStore.insertBatch,
for batches of 500, 37 and 1 records inserted back to back and for one batch per second,
then compares version 4 and version 7 request ids.

Options:
  --databases LIST     comma-separated subset of sqlite,postgres (default both)
  --rounds N           measured rounds of each batch case, after one warm-up
                       round. The output shows their median (default 5)
  --paced-seconds N    duration in seconds of the one-batch-per-second cases
                       (default 10, 0 skips them)
  --id-records N       records inserted per id kind in the id comparison
                       (default 200000, 0 skips the comparison)
  --postgres-url URL   PostgreSQL server URL (default FLUXEN_TEST_DATABASE_URL
                       or postgres://postgres@127.0.0.1:5432/test). Each
                       database that the benchmark opens is a new schema,
                       dropped when the benchmark is done with it
  --help               print this help
`

const parseCount = (flag: string, value: string | undefined, minimum: number): number => {
  const count = Number(value)
  if (value === undefined || !Number.isInteger(count) || count < minimum) {
    throw new Error(`Invalid value for ${flag}: expected an integer of at least ${minimum}, got ${value}.`)
  }
  return count
}

const parseOptions = (argv: ReadonlyArray<string>): Options | "help" => {
  let databases: ReadonlyArray<DatabaseKind> = ["sqlite", "postgres"]
  let rounds = 5
  let pacedSeconds = 10
  let idRecords = 200_000
  let postgresUrl = process.env.FLUXEN_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"
  for (let index = 0; index < argv.length; index++) {
    const flag = argv[index]!
    const value = argv[index + 1]
    index++
    switch (flag) {
      case "--help":
      case "-h":
        return "help"
      case "--databases": {
        const names = (value ?? "").split(",").filter((name) => name !== "")
        if (names.length === 0 || names.some((name) => name !== "sqlite" && name !== "postgres")) {
          throw new Error(`Invalid value for --databases: expected a comma-separated list of sqlite and postgres, got ${value}.`)
        }
        databases = names as Array<DatabaseKind>
        break
      }
      case "--rounds":
        rounds = parseCount(flag, value, 1)
        break
      case "--paced-seconds":
        pacedSeconds = parseCount(flag, value, 0)
        break
      case "--id-records":
        idRecords = parseCount(flag, value, 0)
        break
      case "--postgres-url":
        if (value === undefined) throw new Error("Missing value for --postgres-url: pass a PostgreSQL URL.")
        postgresUrl = value
        break
      default:
        throw new Error(`Unknown option ${flag}. Run with --help for the options.`)
    }
  }
  return { databases, rounds, pacedSeconds, idRecords, postgresUrl }
}

// ============================================================================
// Measurement
// ============================================================================

interface Sample {
  readonly cpuMicros: number
  readonly wallMicros: number
}

const measure = async (work: () => Promise<void>): Promise<Sample> => {
  const cpuBefore = process.cpuUsage()
  const wallBefore = performance.now()
  await work()
  const cpu = process.cpuUsage(cpuBefore)
  return { cpuMicros: cpu.user + cpu.system, wallMicros: (performance.now() - wallBefore) * 1000 }
}

const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

const shuffled = <A>(items: ReadonlyArray<A>, random: () => number): Array<A> => {
  const result = [...items]
  for (let index = result.length - 1; index > 0; index--) {
    const other = Math.floor(random() * (index + 1))
    ;[result[index], result[other]] = [result[other]!, result[index]!]
  }
  return result
}

const range = (first: number, last: number): Array<number> => Array.from({ length: last - first + 1 }, (_, index) => first + index)

// ============================================================================
// Records and databases
// ============================================================================

let createdAtMillis = Date.parse("2025-03-01T00:00:00.000Z")

// Builds the usage record of a successful chat request. Each call advances `createdAt` by 1 ms.
const makeRecord = (requestId: string): UsageRecord => ({
  requestId,
  createdAt: new Date(createdAtMillis++),
  keyId: "key_bench",
  team: "team_bench",
  requestedModel: "gpt-4o-mini",
  resolvedModel: "gpt-4o-mini-2024-07-18",
  provider: "openai",
  endpoint: "chat",
  status: "ok",
  httpStatus: 200,
  stream: false,
  promptTokens: 1200,
  completionTokens: 350,
  cachedInputTokens: 0,
  cacheWriteTokens: 0,
  cacheWrite1hTokens: 0,
  reasoningTokens: 0,
  usageEstimated: false,
  costUsd: 0.00039,
  priceVersion: "2025-03-01",
  cacheStatus: "miss",
  costSavedUsd: null,
  cacheSimilarity: null,
  firstByteMs: 180,
  totalMs: 640,
  errorType: null,
  metadata: null
})

const makeId = (kind: IdKind): string => (kind === "v4" ? randomUUID() : newRequestId())

interface BenchDatabase {
  readonly kind: DatabaseKind
  readonly runtime: ManagedRuntime.ManagedRuntime<UsageStore, unknown>
  /** Size in bytes of the table and its indexes. On SQLite, the size of the database file plus its write-ahead log. */
  readonly size: () => Promise<number>
  readonly close: () => Promise<void>
}

const quietLogs = Logger.minimumLogLevel(LogLevel.Warning)

const fileSize = (file: string): number => {
  try {
    return statSync(file).size
  } catch {
    return 0
  }
}

// Each round gets a new database, so no table contents and no prepared statements carry over
// from an earlier round.
const openSqlite = async (): Promise<BenchDatabase> => {
  const directory = mkdtempSync(Path.join(Os.tmpdir(), "fluxen-usage-bench-"))
  const path = Path.join(directory, "usage.db")
  const runtime = ManagedRuntime.make(UsageDatabase.layer({ sqlitePath: path }).pipe(Layer.provide(quietLogs)))
  await runtime.runPromise(Effect.void)
  return {
    kind: "sqlite",
    runtime,
    size: async () => fileSize(path) + fileSize(`${path}-wal`),
    close: async () => {
      await runtime.dispose()
      rmSync(directory, { recursive: true, force: true })
    }
  }
}

const openPostgres = async (url: string): Promise<BenchDatabase> => {
  const schema = `fluxen_usage_bench_${randomUUID().replaceAll("-", "").slice(0, 16)}`
  const admin = new Pg.Client({ connectionString: url })
  await admin.connect()
  await admin.query(`CREATE SCHEMA ${schema}`)

  const schemaUrl = new URL(url)
  schemaUrl.searchParams.set("options", `-c search_path=${schema}`)
  const options: UsageDatabaseOptions = { url: Redacted.make(schemaUrl.toString()) }
  const runtime = ManagedRuntime.make(UsageDatabase.layer(options).pipe(Layer.provide(quietLogs)))
  await runtime.runPromise(Effect.void)
  return {
    kind: "postgres",
    runtime,
    size: async () => {
      const result = await admin.query(`SELECT pg_total_relation_size('${schema}.fluxen_usage') AS bytes`)
      return Number(result.rows[0].bytes)
    },
    close: async () => {
      await runtime.dispose()
      await admin.query(`DROP SCHEMA ${schema} CASCADE`)
      await admin.end()
    }
  }
}

const openDatabase = (kind: DatabaseKind, options: Options): Promise<BenchDatabase> =>
  kind === "sqlite" ? openSqlite() : openPostgres(options.postgresUrl)

const insertBatches = (database: BenchDatabase, batches: ReadonlyArray<ReadonlyArray<UsageRecord>>): Promise<void> =>
  database.runtime.runPromise(
    Effect.flatMap(UsageStore, (store) => Effect.forEach(batches, (batch) => store.insertBatch(batch), { discard: true }))
  )

// Throws unless the store counts `expected` records, so that a broken insert fails the benchmark.
const expectStored = async (database: BenchDatabase, expected: number, description: string): Promise<void> => {
  const totals = await database.runtime.runPromise(
    Effect.flatMap(UsageStore, (store) =>
      store.totals({ from: new Date("2000-01-01T00:00:00Z"), to: new Date("2100-01-01T00:00:00Z"), groupBy: "model" })
    )
  )
  const stored = totals.reduce((sum, total) => sum + total.requests, 0)
  if (stored !== expected) {
    throw new Error(`${description} on ${database.kind}: ${stored} records stored, expected ${expected}.`)
  }
}

// ============================================================================
// Batch cases
// ============================================================================

interface BatchCase {
  readonly name: string
  /** Sizes of the batches of one round, in insert order. */
  readonly sizes: (random: () => number) => ReadonlyArray<number>
}

const repeated = (size: number, batches: number): ReadonlyArray<number> => Array.from({ length: batches }, () => size)

// "same": every batch has the same size, the best case for a prepare cache keyed by SQL text.
// "varied": no size repeats within a round, as when the writer flushes whatever arrived in the
// last second.
const batchCases: ReadonlyArray<BatchCase> = [
  { name: "500 same", sizes: () => repeated(500, 60) },
  { name: "500 varied", sizes: (random) => shuffled(range(250, 750), random).slice(0, 60) },
  { name: "37 same", sizes: () => repeated(37, 400) },
  { name: "37 varied", sizes: (random) => shuffled(range(1, 73), random) },
  { name: "1 same", sizes: () => repeated(1, 3000) }
]

interface CaseResult {
  readonly name: string
  readonly records: number
  readonly cpuMicrosPerRecord: ReadonlyArray<number>
  readonly wallMicrosPerRecord: ReadonlyArray<number>
}

// Runs one round of a case on a new database and returns the CPU and wall time per record.
const runBatchRound = async (kind: DatabaseKind, batchCase: BatchCase, options: Options, random: () => number): Promise<Sample & { readonly records: number }> => {
  const batches = batchCase.sizes(random).map((size) => Array.from({ length: size }, () => makeRecord(randomUUID())))
  const records = batches.reduce((sum, batch) => sum + batch.length, 0)
  const database = await openDatabase(kind, options)
  try {
    const sample = await measure(() => insertBatches(database, batches))
    await expectStored(database, records, batchCase.name)
    return { cpuMicros: sample.cpuMicros / records, wallMicros: sample.wallMicros / records, records }
  } finally {
    await database.close()
  }
}

// Runs the cases in turn, round after round, so that a period when the machine is slow affects
// all cases alike. Round 0 warms up the JIT compiler and is not reported.
const runBatchCases = async (kind: DatabaseKind, options: Options): Promise<Array<CaseResult>> => {
  // Seeded, so that every run shuffles the batch sizes the same way.
  const random = seededRandom(20_250_301)
  const results = batchCases.map((batchCase) => ({
    name: batchCase.name,
    records: 0,
    cpuMicrosPerRecord: [] as Array<number>,
    wallMicrosPerRecord: [] as Array<number>
  }))
  for (let round = 0; round <= options.rounds; round++) {
    for (const [index, batchCase] of batchCases.entries()) {
      const sample = await runBatchRound(kind, batchCase, options, random)
      const result = results[index]!
      result.records = sample.records
      if (round > 0) {
        result.cpuMicrosPerRecord.push(sample.cpuMicros)
        result.wallMicrosPerRecord.push(sample.wallMicros)
      }
    }
  }
  return results
}

const formatCase = (result: CaseResult): string => {
  const cpu = result.cpuMicrosPerRecord
  return [
    result.name.padEnd(12),
    String(result.records).padStart(8),
    median(cpu).toFixed(1).padStart(10),
    `${Math.min(...cpu).toFixed(1)}-${Math.max(...cpu).toFixed(1)}`.padStart(14),
    median(result.wallMicrosPerRecord).toFixed(1).padStart(11)
  ].join("  ")
}

// ============================================================================
// Paced cases
// ============================================================================

// Mean batch sizes of the paced cases. Each batch is up to 20 % smaller or larger.
const pacedMeans = [37, 300]

/**
 * Inserts one batch per second into one database per mean size, as the usage writer flushes at a
 * steady request rate below its batch size. Unlike the back-to-back cases, statements that the
 * SQLite client prepared can expire between batches (`UsageDatabase` sets their expiry to 2
 * seconds). Returns the CPU time per record, leaving out each database's first batch.
 */
const runPacedCases = async (kind: DatabaseKind, options: Options): Promise<ReadonlyArray<readonly [string, number]>> => {
  const random = seededRandom(20_250_302)
  const databases: Array<BenchDatabase> = []
  try {
    for (let index = 0; index < pacedMeans.length; index++) {
      databases.push(await openDatabase(kind, options))
    }
    const cpuMicros: Array<number> = pacedMeans.map(() => 0)
    const records: Array<number> = pacedMeans.map(() => 0)
    for (let second = 0; second <= options.pacedSeconds; second++) {
      for (const [index, mean] of pacedMeans.entries()) {
        const size = Math.round(mean * (0.8 + 0.4 * random()))
        const batch = Array.from({ length: size }, () => makeRecord(randomUUID()))
        const sample = await measure(() => insertBatches(databases[index]!, [batch]))
        if (second > 0) {
          cpuMicros[index] = cpuMicros[index]! + sample.cpuMicros
          records[index] = records[index]! + size
        }
      }
      await sleep(1000)
    }
    return pacedMeans.map((mean, index) => [`${mean} paced`, cpuMicros[index]! / records[index]!] as const)
  } finally {
    for (const database of databases) {
      await database.close()
    }
  }
}

// ============================================================================
// Id kinds
// ============================================================================

const idSliceRecords = 50_000

interface IdCaseResult {
  /** CPU µs per record for each slice of `idSliceRecords` records, so that a cost that grows with the table shows. */
  readonly cpuMicrosPerRecord: ReadonlyArray<number>
  readonly bytes: number
}

// Inserts `--id-records` records in batches of 500 into an empty table.
const runIdCase = async (kind: DatabaseKind, idKind: IdKind, options: Options): Promise<IdCaseResult> => {
  const records = options.idRecords
  const ids = Array.from({ length: records }, () => makeId(idKind))
  const cpuMicrosPerRecord: Array<number> = []
  const database = await openDatabase(kind, options)
  try {
    for (let start = 0; start < records; start += idSliceRecords) {
      const slice = ids.slice(start, start + idSliceRecords)
      const batches: Array<Array<UsageRecord>> = []
      for (let offset = 0; offset < slice.length; offset += 500) {
        batches.push(slice.slice(offset, offset + 500).map(makeRecord))
      }
      const sample = await measure(() => insertBatches(database, batches))
      cpuMicrosPerRecord.push(sample.cpuMicros / slice.length)
    }
    await expectStored(database, records, `${idKind} ids`)
    return { cpuMicrosPerRecord, bytes: await database.size() }
  } finally {
    await database.close()
  }
}

// XOR of the characters that the id timing loop reads. Writing it keeps the compiler from
// dropping the reads.
let lastCharacters = 0

// Measures the nanoseconds per id of each generator, as the median of 5 runs of 1,000,000 calls
// that alternate between the generators. Reading the last character makes V8 flatten an id built
// by concatenation, as any later use of the id (a header, a bound parameter) would.
const timeIdGeneration = (): ReadonlyArray<readonly [string, number]> => {
  const generators: ReadonlyArray<readonly [string, () => string]> = [
    ["node:crypto randomUUID (v4)", () => randomUUID()],
    ["globalThis.crypto.randomUUID (v4)", () => globalThis.crypto.randomUUID()],
    ["newRequestId (v7)", newRequestId]
  ]
  for (const [name, generate] of generators) {
    const id = generate()
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id)) {
      throw new Error(`${name} returned ${id}, which is not a lowercase UUID.`)
    }
  }

  const calls = 1_000_000
  const samples = generators.map((): Array<number> => [])
  for (let run = 0; run < 5; run++) {
    generators.forEach(([, generate], index) => {
      const started = process.hrtime.bigint()
      for (let call = 0; call < calls; call++) {
        lastCharacters ^= generate().charCodeAt(35)
      }
      samples[index]!.push(Number(process.hrtime.bigint() - started) / calls)
    })
  }
  return generators.map(([name], index) => [name, median(samples[index]!)] as const)
}

// ============================================================================
// Main
// ============================================================================

const main = async (options: Options): Promise<void> => {
  console.log(`Usage insert benchmark, ${new Date().toISOString()}`)
  console.log(`Machine: ${Os.cpus()[0]?.model ?? "unknown CPU"}, ${Os.cpus().length} CPUs, Node ${process.version}`)

  console.log("\nId generation, ns per id (median of 5 runs of 1,000,000):")
  for (const [name, nanos] of timeIdGeneration()) {
    console.log(`  ${name.padEnd(36)} ${nanos.toFixed(0).padStart(6)}`)
  }

  for (const kind of options.databases) {
    console.log(`\n${kind}: insertBatch, CPU µs per record (median and range of ${options.rounds} rounds after a warm-up round), v4 ids`)
    console.log(`  ${"batches".padEnd(12)}  ${"records".padStart(8)}  ${"CPU µs".padStart(10)}  ${"CPU range".padStart(14)}  ${"wall µs".padStart(11)}`)
    for (const result of await runBatchCases(kind, options)) {
      console.log(`  ${formatCase(result)}`)
    }

    if (options.pacedSeconds > 0) {
      console.log(`\n${kind}: one batch per second for ${options.pacedSeconds} s, CPU µs per record, v4 ids`)
      for (const [name, micros] of await runPacedCases(kind, options)) {
        console.log(`  ${name.padEnd(12)}  ${micros.toFixed(1).padStart(8)}`)
      }
    }

    if (options.idRecords > 0) {
      console.log(`\n${kind}: ${options.idRecords} records in batches of 500 into an empty table, CPU µs per record by slice of ${idSliceRecords}`)
      for (const idKind of ["v4", "v7"] as const) {
        const result = await runIdCase(kind, idKind, options)
        const slices = result.cpuMicrosPerRecord
        const mean = slices.reduce((sum, micros) => sum + micros, 0) / slices.length
        const mebibytes = result.bytes / 1024 / 1024
        console.log(`  ${idKind}: ${slices.map((micros) => micros.toFixed(1)).join(", ")}  (mean ${mean.toFixed(1)}, ${mebibytes.toFixed(1)} MiB)`)
      }
    }
  }
}

const parsed = (() => {
  try {
    return parseOptions(process.argv.slice(2))
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error))
    process.exit(2)
  }
})()

if (parsed === "help") {
  console.log(usage)
} else {
  await main(parsed)
}
