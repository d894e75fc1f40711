import { describe, expect, it } from "vitest"
import { percentile, summarizeLatencies } from "./latency.js"
import type { CaseResult } from "./measure.js"
import { parseOptions } from "./options.js"
import { parseCpuList, parseCpuTicks, parseSystemCpuTicks } from "./processes.js"
import { packageOf, summarizeProfile, type CpuProfile } from "./profileSummary.js"
import { compare, formatProfileComparison } from "./report.js"

describe("percentile", () => {
  it("uses the nearest rank", () => {
    const sorted = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    expect(percentile(sorted, 50)).toBe(5)
    expect(percentile(sorted, 90)).toBe(9)
    expect(percentile(sorted, 99)).toBe(10)
    expect(percentile(sorted, 100)).toBe(10)
    expect(percentile([], 50)).toBe(0)
  })

  it("summarizes unsorted samples", () => {
    const summary = summarizeLatencies(Float64Array.from([3, 1, 2, 4]))
    expect(summary.count).toBe(4)
    expect(summary.mean).toBe(2.5)
    expect(summary.p50).toBe(2)
    expect(summary.max).toBe(4)
  })
})

describe("proc parsers", () => {
  it("reads utime and stime after a command name with spaces", () => {
    const line = "4242 (node (worker) x) S 1 4242 4242 0 -1 4194560 1000 0 0 0 1234 567 0 0 20 0 11 0 300 1000000 5000 18446744073709551615"
    expect(parseCpuTicks(line)).toBe(1234 + 567)
  })

  it("reads busy and steal ticks from /proc/stat", () => {
    const stat = "cpu  100 5 50 9000 20 3 7 11 0 0\ncpu0 50 2 25 4500 10 1 3 5 0 0\nintr 1\n"
    expect(parseSystemCpuTicks(stat)).toEqual({ busy: 100 + 5 + 50 + 3 + 7, steal: 11 })
  })

  it("expands CPU lists", () => {
    expect(parseCpuList("0-2,5")).toEqual([0, 1, 2, 5])
    expect(parseCpuList("1")).toEqual([1])
    expect(() => parseCpuList("a")).toThrow("Invalid CPU list")
  })
})

describe("parseOptions", () => {
  it("applies defaults", () => {
    const options = parseOptions([])
    expect(options).toMatchObject({ durationMs: 10_000, warmupMs: 2_000, connections: 64, analyzer: true, profile: false })
  })

  it("reads flags", () => {
    const options = parseOptions(["--duration", "1.5", "--workloads", "stream", "--no-analyzer", "--targets", "fluxen,direct"])
    expect(options).toMatchObject({ durationMs: 1_500, workloads: ["stream"], analyzer: false, targets: ["direct", "fluxen"] })
  })

  it("profile-minimal implies profile", () => {
    expect(parseOptions(["--profile-minimal"])).toMatchObject({ profile: true, profileMinimal: true })
    expect(parseOptions(["--profile"])).toMatchObject({ profile: true, profileMinimal: false })
  })

  it("rejects invalid values", () => {
    expect(() => parseOptions(["--connections", "0"])).toThrow("--connections needs a positive integer")
    expect(() => parseOptions(["--workloads", "plain,embeddings"])).toThrow("--workloads needs")
    expect(() => parseOptions(["--proxy-cpus", "0"])).toThrow("must be given together")
    expect(() => parseOptions(["--fast"])).toThrow("Unknown option: --fast")
  })
})

describe("summarizeProfile", () => {
  const frame = (functionName: string, url: string) => ({ functionName, url, lineNumber: 9 })
  const profile: CpuProfile = {
    nodes: [
      { id: 1, callFrame: frame("(root)", "") },
      { id: 2, callFrame: frame("(idle)", "") },
      { id: 3, callFrame: frame("runLoop", "file:///repo/node_modules/effect/dist/esm/internal/fiberRuntime.js") },
      { id: 4, callFrame: frame("handle", "file:///repo/runtime/dist/pipeline/ProxyHandler.js") }
    ],
    startTime: 1_000,
    endTime: 1_600,
    samples: [2, 3, 3, 4, 3, 2],
    timeDeltas: [100, 100, 100, 100, 100, 100]
  }

  it("adds self time per function and package, idle apart", () => {
    const summary = summarizeProfile(profile, { repositoryRoot: "/repo/" })
    expect(summary.samples).toBe(6)
    expect(summary.idleMs).toBeCloseTo(0.2)
    expect(summary.busyMs).toBeCloseTo(0.4)
    expect(summary.functions[0]).toMatchObject({ name: "runLoop effect/dist/esm/internal/fiberRuntime.js:10", percent: 75 })
    expect(summary.packages.map((entry) => entry.name)).toEqual(["effect", "fluxen runtime"])
  })

  it("keeps only the samples in the window", () => {
    const summary = summarizeProfile(profile, { window: { startMicros: 1_250, endMicros: 1_450 } })
    expect(summary.samples).toBe(2)
    expect(summary.functions.map((entry) => entry.name.split(" ")[0]).sort()).toEqual(["handle", "runLoop"])
  })

  it("names packages", () => {
    expect(packageOf(frame("f", "file:///x/node_modules/@effect/platform/dist/a.js"))).toBe("@effect/platform")
    expect(packageOf(frame("f", "node:internal/streams/readable"))).toBe("Node.js core")
    expect(packageOf(frame("(garbage collector)", ""))).toBe("V8 garbage collector")
    expect(packageOf(frame("f", "file:///x/plugins/analyzer/dist/index.js"))).toBe("fluxen plugins/analyzer")
  })
})

describe("compare", () => {
  const result = (target: CaseResult["target"], requestsPerSecond: number, cpuMicrosPerRequest: number, p50: number): CaseResult =>
    ({
      target,
      workload: "plain",
      load: "loaded",
      requestsPerSecond,
      latency: { count: 1, mean: p50, p50, p90: p50, p99: p50 * 2, p999: p50 * 2, max: p50 * 2 },
      server: { cpuMicrosPerRequest }
    }) as CaseResult

  it("computes ratios and added latency", () => {
    const [plain] = compare([result("direct", 9000, 40, 2), result("minimal", 5000, 100, 10), result("fluxen", 3000, 250, 20)], ["plain"])
    expect(plain!.throughputRatio).toBeCloseTo(0.6)
    expect(plain!.meetsThroughputTarget).toBe(false)
    expect(plain!.cpuPerRequestRatio).toBeCloseTo(2.5)
    expect(plain!.fluxenAddedLatency.loaded).toEqual({ p50: 18, p99: 36 })
    expect(plain!.fluxenAddedLatency.unloaded).toBeUndefined()
  })
})

describe("formatProfileComparison", () => {
  const run = (succeeded: number, packages: ReadonlyArray<readonly [string, number]>) => ({
    result: { succeeded } as CaseResult,
    summary: {
      busyMs: packages.reduce((sum, [, ms]) => sum + ms, 0),
      idleMs: 0,
      samples: 100,
      functions: [],
      packages: packages.map(([name, milliseconds]) => ({ name, milliseconds, percent: 0 }))
    }
  })

  it("microseconds per request, largest difference first", () => {
    const minimal = run(1000, [["Node.js core", 40], ["undici", 30]])
    const fluxen = run(500, [["Node.js core", 20], ["undici", 10], ["fluxen runtime", 25]])
    const lines = formatProfileComparison(minimal, fluxen, "stream").split("\n")

    expect(lines[0]).toContain("stream workload")
    expect(lines[2]).toMatch(/^fluxen runtime\s+0\.0\s+50\.0\s+50\.0$/)
    expect(lines[3]).toMatch(/^undici\s+30\.0\s+20\.0\s+-10\.0$/)
    expect(lines[4]).toMatch(/^Node\.js core\s+40\.0\s+40\.0\s+0\.0$/)
    expect(lines[5]).toMatch(/^all, busy main thread\s+70\.0\s+110\.0\s+40\.0$/)
  })
})
