/**
 * Summarizes a V8 CPU profile (the `.cpuprofile` JSON that `node --cpu-prof`
 * writes) by self time: the functions that were running when samples were
 * taken, and the same time grouped by package.
 */

interface CallFrame {
  readonly functionName: string
  readonly url: string
  /** 0-based. */
  readonly lineNumber: number
}

interface ProfileNode {
  readonly id: number
  readonly callFrame: CallFrame
}

export interface CpuProfile {
  readonly nodes: ReadonlyArray<ProfileNode>
  /** Microseconds on the monotonic clock that `process.hrtime` also reads. */
  readonly startTime: number
  readonly endTime: number
  /** The node id of each sample. */
  readonly samples: ReadonlyArray<number>
  /** Microseconds since the previous sample (the first: since `startTime`). */
  readonly timeDeltas: ReadonlyArray<number>
}

export interface SelfTimeEntry {
  readonly name: string
  /** Share of the profiled time, 0–100, idle time excluded. */
  readonly percent: number
  readonly milliseconds: number
}

export interface ProfileSummary {
  /** Profiled time in the window, idle time excluded, in milliseconds. */
  readonly busyMs: number
  readonly idleMs: number
  readonly samples: number
  readonly functions: ReadonlyArray<SelfTimeEntry>
  readonly packages: ReadonlyArray<SelfTimeEntry>
}

/** A time range on the profile's clock, in microseconds. */
export interface ProfileWindow {
  readonly startMicros: number
  readonly endMicros: number
}

/** Names the code a URL belongs to: a package, a Fluxen workspace, Node's core, or V8 itself. */
export const packageOf = (frame: CallFrame): string => {
  const { url, functionName } = frame
  // undici's HTTP parser (llhttp) is the only WebAssembly in the packages Fluxen loads.
  if (url.startsWith("wasm://") || functionName.startsWith("js-to-wasm") || functionName === "GenericJSToWasmWrapper") {
    return "WebAssembly (undici's llhttp)"
  }
  if (url === "") {
    if (functionName === "(garbage collector)") return "V8 garbage collector"
    if (functionName === "(program)") return "V8 and native code (program)"
    if (functionName.startsWith("RegExp: ")) return "V8 regular expressions"
    return "native functions"
  }
  if (url.startsWith("node:")) return "Node.js core"
  const modules = url.lastIndexOf("/node_modules/")
  if (modules !== -1) {
    const parts = url.slice(modules + "/node_modules/".length).split("/")
    return parts[0]!.startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0]!
  }
  const workspace = /\/(sdk|runtime|providers\/[^/]+|plugins\/[^/]+|test)\/dist\//.exec(url)
  return workspace === null ? url : `fluxen ${workspace[1]}`
}

const shortLocation = (frame: CallFrame, repositoryRoot: string): string => {
  if (frame.url === "") return ""
  const path = frame.url.replace(/^file:\/\//, "")
  const modules = path.lastIndexOf("/node_modules/")
  const short = modules !== -1 ? path.slice(modules + "/node_modules/".length) : path.startsWith(repositoryRoot) ? path.slice(repositoryRoot.length) : path
  return `${short}:${frame.lineNumber + 1}`
}

/** Maximum length of a function name in the summary, because V8 names a regular expression by its whole pattern. */
const maxNameLength = 60

const truncate = (text: string, length: number) => (text.length <= length ? text : `${text.slice(0, length - 1)}…`)

const toEntries = (totals: Map<string, number>, busyMicros: number, count: number): Array<SelfTimeEntry> =>
  [...totals.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, micros]) => ({ name, percent: (100 * micros) / busyMicros, milliseconds: micros / 1000 }))

/**
 * Adds up self time per function and per package over the samples taken in
 * `window` (the whole profile when it is undefined). Idle samples are
 * counted apart, so percentages are shares of the time the thread was busy.
 */
export const summarizeProfile = (
  profile: CpuProfile,
  options: { readonly window?: ProfileWindow; readonly top?: number; readonly repositoryRoot?: string } = {}
): ProfileSummary => {
  const frames = new Map<number, CallFrame>()
  for (const node of profile.nodes) frames.set(node.id, node.callFrame)

  const byFunction = new Map<string, number>()
  const byPackage = new Map<string, number>()
  let busyMicros = 0
  let idleMicros = 0
  let counted = 0
  let timestamp = profile.startTime

  for (let index = 0; index < profile.samples.length; index++) {
    const delta = profile.timeDeltas[index] ?? 0
    timestamp += delta
    if (options.window !== undefined && (timestamp < options.window.startMicros || timestamp >= options.window.endMicros)) continue
    // A sample stands for the time until the next one.
    const duration = profile.timeDeltas[index + 1] ?? delta
    const frame = frames.get(profile.samples[index]!)
    if (frame === undefined) continue
    counted++
    if (frame.functionName === "(idle)") {
      idleMicros += duration
      continue
    }
    busyMicros += duration
    const location = shortLocation(frame, options.repositoryRoot ?? "")
    const functionName = frame.functionName === "" ? "(anonymous)" : truncate(frame.functionName, maxNameLength)
    const name = location === "" ? functionName : `${functionName} ${location}`
    byFunction.set(name, (byFunction.get(name) ?? 0) + duration)
    const owner = packageOf(frame)
    byPackage.set(owner, (byPackage.get(owner) ?? 0) + duration)
  }

  const top = options.top ?? 20
  return {
    busyMs: busyMicros / 1000,
    idleMs: idleMicros / 1000,
    samples: counted,
    functions: toEntries(byFunction, busyMicros, top),
    packages: toEntries(byPackage, busyMicros, top)
  }
}
