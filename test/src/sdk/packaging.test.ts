/**
 * Follows docs/plugins.md end to end. As an author: packs the SDK, installs
 * the tarball and the development tools into a scratch directory, and builds,
 * tests and packs both example plugins there. As an operator: installs the
 * plugin tarballs at the root of this checkout, which is a Fluxen
 * installation, and runs the real `fluxen` command with both plugins enabled
 * by package name in fluxen.yaml. The provider talks to a replay server on
 * 127.0.0.1.
 *
 * The examples share one scratch install of the development tools, because
 * each would install the same packages. The operator step uses `--no-save` so
 * that the checkout's package.json and lockfile stay as they are, and
 * `afterAll` uninstalls the plugins again.
 */
import { readRecording, startReplayUpstream, type ReplayUpstream } from "@fluxen/sdk/testing"
import OpenAI from "openai"
import { execFile, spawn, type ChildProcess } from "node:child_process"
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { importedSpecifiers, packageOf } from "./scanImports.js"

const run = promisify(execFile)

const repo = fileURLToPath(new URL("../../../", import.meta.url))
const tscBin = Path.join(repo, "node_modules/typescript/bin/tsc")
const fluxenBin = Path.join(repo, "runtime/dist/bin/fluxen.js")

const EXAMPLES = [
  { folder: "provider-cohere", name: "@example/fluxen-provider-cohere" },
  { folder: "optimizer-trim-history", name: "@example/fluxen-optimizer-trim-history" }
] as const

/** Modules every example may import besides its own files and its declared dependencies. */
const ALLOWED_PACKAGES = new Set(["@fluxen/sdk", "effect"])

// The setup (npm installs, tsc) took about 95 s on a busy 2-core machine with a warm
// npm cache. The margin covers a cold cache and a slower machine.
const SETUP_TIMEOUT_MS = 240_000

const API_KEY = "co-packaging-key-3c8f1e"
const MAX_PROMPT_TOKENS = 300

// NO_COLOR keeps the nested vitest's summary plain text, so it can be matched.
const { FORCE_COLOR: _forceColor, ...inheritedEnv } = process.env
const npmEnv = { ...inheritedEnv, NO_COLOR: "1", npm_config_update_notifier: "false", npm_config_fund: "false", npm_config_audit: "false" }

const exec = async (file: string, args: ReadonlyArray<string>, cwd: string): Promise<string> => {
  try {
    const { stdout } = await run(file, [...args], { cwd, env: npmEnv, maxBuffer: 32 * 1024 * 1024 })
    return stdout
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string }
    throw new Error(`${Path.basename(file)} ${args.join(" ")} failed in ${cwd}:\n${stdout ?? ""}\n${stderr ?? ""}`)
  }
}

const npm = (args: ReadonlyArray<string>, cwd: string) => exec("npm", args, cwd)
const node = (args: ReadonlyArray<string>, cwd: string) => exec(process.execPath, args, cwd)

/** Packs the package in `directory` into `destination` and returns the tarball's path and file list. */
const pack = async (directory: string, destination: string) => {
  const output = await npm(["pack", "--json", "--pack-destination", destination], directory)
  const [packed] = JSON.parse(output) as Array<{ filename: string; files: Array<{ path: string }> }>
  return { tarball: Path.join(destination, packed!.filename), files: packed!.files.map((file) => file.path) }
}

/** Returns `name@version` with the version this checkout has installed, so the author's tools match the repository's. */
const withInstalledVersion = (name: string): string => {
  const manifest = JSON.parse(readFileSync(Path.join(repo, "node_modules", name, "package.json"), "utf8")) as { version: string }
  return `${name}@${manifest.version}`
}

/** Returns the real path of the file `specifier` resolves to from `directory`. */
const resolvedFrom = (directory: string, specifier: string): string =>
  realpathSync(createRequire(Path.join(directory, "noop.js")).resolve(specifier))

/** Returns the packages that `entry` imports, directly or through the relative modules it imports. */
const packagesLoadedBy = (entry: string): Set<string> => {
  const seen = new Set<string>()
  const packages = new Set<string>()
  const pending = [entry]
  while (pending.length > 0) {
    const file = pending.pop()!
    if (seen.has(file)) continue
    seen.add(file)
    for (const specifier of importedSpecifiers(readFileSync(file, "utf8"))) {
      if (specifier.startsWith(".")) pending.push(Path.resolve(Path.dirname(file), specifier))
      else packages.add(packageOf(specifier))
    }
  }
  return packages
}

const listFiles = (directory: string): Array<string> =>
  readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const path = Path.join(directory, entry.name)
    return entry.isDirectory() ? listFiles(path) : [path]
  })

/** Returns a message for every import in the package's JS files that is not allowed; empty when all are. */
const forbiddenImports = (packageDirectory: string): Array<string> => {
  const manifest = JSON.parse(readFileSync(Path.join(packageDirectory, "package.json"), "utf8")) as { dependencies?: Record<string, string> }
  const allowed = new Set([...ALLOWED_PACKAGES, ...Object.keys(manifest.dependencies ?? {})])
  const problems: Array<string> = []
  for (const file of listFiles(packageDirectory).filter((path) => path.endsWith(".js"))) {
    const where = Path.relative(packageDirectory, file)
    for (const specifier of importedSpecifiers(readFileSync(file, "utf8"))) {
      if (specifier.startsWith(".")) {
        const resolved = Path.resolve(Path.dirname(file), specifier)
        if (!resolved.startsWith(packageDirectory + Path.sep) || !existsSync(resolved)) problems.push(`${where}: '${specifier}' is not a file of the package`)
      } else if (!allowed.has(packageOf(specifier)) || specifier.startsWith("@fluxen/sdk/")) {
        problems.push(`${where}: imports '${specifier}'`)
      }
    }
  }
  return problems
}

interface Gateway {
  readonly url: string
  readonly process: ChildProcess
  readonly logs: () => Array<Record<string, any>>
}

/** Starts `fluxen start` in `cwd` and resolves once it logs the address it listens on. */
const startFluxen = (cwd: string, configPath: string): Promise<Gateway> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fluxenBin, "start", "--config", configPath], { cwd, env: process.env, stdio: ["ignore", "pipe", "pipe"] })
    const lines: Array<Record<string, any>> = []
    let output = ""
    let pending = ""
    const timer = setTimeout(() => fail(new Error(`fluxen did not report listening within 30 s. Output:\n${output}`)), 30_000)
    const fail = (error: Error) => {
      clearTimeout(timer)
      child.kill("SIGKILL")
      reject(error)
    }
    const onData = (chunk: Buffer) => {
      output += chunk.toString("utf8")
      pending += chunk.toString("utf8")
      const complete = pending.split("\n")
      pending = complete.pop()!
      for (const line of complete) {
        let entry: Record<string, any>
        try {
          entry = JSON.parse(line) as Record<string, any>
        } catch {
          continue
        }
        lines.push(entry)
        if (entry.message === "Fluxen is listening") {
          clearTimeout(timer)
          resolve({ url: String(entry.annotations.url), process: child, logs: () => lines })
        }
      }
    }
    child.stdout!.on("data", onData)
    child.stderr!.on("data", onData)
    child.once("exit", (code) => fail(new Error(`fluxen exited with code ${code} before listening. Output:\n${output}`)))
  })

/** Resolves with the first log entry that matches; the gateway's output arrives through a pipe, so it can trail the response. */
const waitForLog = async (gateway: Gateway, matches: (entry: Record<string, any>) => boolean): Promise<Record<string, any>> => {
  const deadline = Date.now() + 2_000
  for (;;) {
    const entry = gateway.logs().find(matches)
    if (entry !== undefined) return entry
    if (Date.now() > deadline) throw new Error("The expected log entry did not appear within 2 s.")
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

const stopFluxen = (child: ChildProcess): Promise<void> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000)
    child.once("exit", () => {
      clearTimeout(timer)
      resolve()
    })
    child.kill("SIGTERM")
  })

// About 60 tokens per user message, so 20 turns are far over MAX_PROMPT_TOKENS.
const paragraph = (turn: number) => `Turn ${turn}: ${"the quick brown fox jumps over the lazy dog ".repeat(6)}`

const longConversation = (turns: number) => {
  const messages: Array<{ role: "system" | "user" | "assistant"; content: string }> = [{ role: "system", content: "You are a concise assistant." }]
  for (let turn = 1; turn <= turns; turn++) {
    messages.push({ role: "user", content: paragraph(turn) })
    if (turn < turns) messages.push({ role: "assistant", content: `Answer ${turn}.` })
  }
  return messages
}

describe("SDK and example plugins as npm packages", () => {
  let work: string
  let buildDirectory: string
  let configDirectory: string
  let installed = false
  /** A file of a package the author installed, such as `typescript/bin/tsc`. */
  const authorBin = (path: string) => Path.join(buildDirectory, "node_modules", path)
  const tarballs = new Map<string, { tarball: string; files: Array<string> }>()

  beforeAll(async () => {
    if (!existsSync(fluxenBin)) throw new Error(`${fluxenBin} is missing; build the repository first (npx tsc -b).`)
    work = mkdtempSync(Path.join(tmpdir(), "fluxen-packaging-"))
    const tarballDirectory = Path.join(work, "tarballs")
    mkdirSync(tarballDirectory)

    await node([tscBin, "-b", "sdk"], repo)
    tarballs.set("@fluxen/sdk", await pack(Path.join(repo, "sdk"), tarballDirectory))

    // The author's steps: the packed SDK and the tools as devDependencies, then build, test and pack.
    buildDirectory = Path.join(work, "build")
    mkdirSync(buildDirectory)
    writeFileSync(Path.join(buildDirectory, "package.json"), JSON.stringify({ name: "build", private: true, type: "module" }, null, 2))
    await npm(
      [
        "install",
        "--save-dev",
        "--no-audit",
        "--no-fund",
        "--prefer-offline",
        tarballs.get("@fluxen/sdk")!.tarball,
        ...["effect", "typescript", "vitest", "@types/node", "gpt-tokenizer"].map(withInstalledVersion)
      ],
      buildDirectory
    )
    for (const example of EXAMPLES) {
      const directory = Path.join(buildDirectory, example.folder)
      cpSync(Path.join(repo, "examples", example.folder), directory, {
        recursive: true,
        filter: (source) => !["dist", "node_modules"].includes(Path.basename(source))
      })
      // tsconfig.json type-checks the tests too, against the packed SDK's declarations.
      await node([authorBin("typescript/bin/tsc"), "-p", Path.join(directory, "tsconfig.json")], directory)
      await node([authorBin("typescript/bin/tsc"), "-p", Path.join(directory, "tsconfig.build.json")], directory)
      tarballs.set(example.name, await pack(directory, tarballDirectory))
    }

    // The operator's step: install the tarballs at the root of the Fluxen installation.
    installed = true
    await npm(
      ["install", "--no-save", "--no-audit", "--no-fund", "--prefer-offline", ...EXAMPLES.map((example) => tarballs.get(example.name)!.tarball)],
      repo
    )
    // Only fluxen.yaml and the usage database live here, so the plugins must come from the installation.
    configDirectory = Path.join(work, "config")
    mkdirSync(configDirectory)
  }, SETUP_TIMEOUT_MS)

  afterAll(async () => {
    if (installed) await npm(["uninstall", "--no-save", "--no-audit", "--no-fund", ...EXAMPLES.map((example) => example.name)], repo)
    if (work !== undefined) rmSync(work, { recursive: true, force: true })
  }, 60_000)

  it("SDK tarball ships the testing entry point", () => {
    const files = tarballs.get("@fluxen/sdk")!.files
    expect(files).toContain("dist/testing/index.js")
    expect(files).toContain("dist/testing/index.d.ts")
    expect(files).toContain("dist/index.js")
  })

  it("SDK tarball ships a README", () => {
    expect(tarballs.get("@fluxen/sdk")!.files).toContain("README.md")
  })

  it("SDK main entry never loads @effect/sql", () => {
    expect([...packagesLoadedBy(Path.join(repo, "sdk/dist/index.js"))]).not.toContain("@effect/sql")
  })

  it("author install leaves out @effect/sql", () => {
    expect(existsSync(Path.join(buildDirectory, "node_modules/@effect/sql"))).toBe(false)
  })

  it("installed plugins share the runtime's SDK and effect", () => {
    const runtime = Path.join(repo, "runtime/dist")
    for (const example of EXAMPLES) {
      const plugin = Path.join(repo, "node_modules", example.name, "dist")
      expect(resolvedFrom(plugin, "@fluxen/sdk"), example.name).toBe(resolvedFrom(runtime, "@fluxen/sdk"))
      expect(resolvedFrom(plugin, "effect"), example.name).toBe(resolvedFrom(runtime, "effect"))
    }
  })

  it("example tarballs ship only compiled code and docs", () => {
    for (const example of EXAMPLES) {
      const files = tarballs.get(example.name)!.files
      expect(files, example.name).toContain("dist/index.js")
      expect(files, example.name).toContain("README.md")
      const unexpected = files.filter((file) => !file.startsWith("dist/") && !["package.json", "README.md"].includes(file))
      expect(unexpected, `${example.name} ships files outside dist`).toEqual([])
      expect(files.filter((file) => file.endsWith(".test.js")), `${example.name} ships tests`).toEqual([])
    }
  })

  it("examples import only the SDK, effect, their own files and declared dependencies", () => {
    for (const example of EXAMPLES) {
      const packageDirectory = Path.join(repo, "node_modules", example.name)
      expect(forbiddenImports(packageDirectory), example.name).toEqual([])
    }
  })

  it("examples declare the SDK and effect as peer dependencies", () => {
    for (const example of EXAMPLES) {
      const manifest = JSON.parse(readFileSync(Path.join(repo, "node_modules", example.name, "package.json"), "utf8"))
      expect(Object.keys(manifest.peerDependencies ?? {}).sort(), example.name).toEqual(["@fluxen/sdk", "effect"])
      expect(Object.keys(manifest.dependencies ?? {}), `${example.name} depends on a @fluxen package directly`).not.toContain("@fluxen/sdk")
    }
  })

  it("examples pass their own tests against the packed SDK", async () => {
    for (const example of EXAMPLES) {
      const output = await node([authorBin("vitest/vitest.mjs"), "run", "--root", Path.join(buildDirectory, example.folder)], buildDirectory)
      expect(output, example.name).toMatch(/Tests\s+\d+ passed/)
      expect(output, example.name).not.toMatch(/failed/)
    }
  }, 60_000)

  describe("fluxen with both plugins enabled by package name", () => {
    let upstream: ReplayUpstream
    let gateway: Gateway
    let client: OpenAI
    const recording = (name: string) => readRecording(Path.join(repo, "examples/provider-cohere/recordings", name))

    beforeAll(async () => {
      upstream = await startReplayUpstream()
      const configPath = Path.join(configDirectory, "fluxen.yaml")
      writeFileSync(
        configPath,
        `server:
  host: 127.0.0.1
  port: 0
usage:
  sqlitePath: ./usage.db
  flushInterval: 50
logging:
  level: info
  format: json
providers:
  cohere:
    use: "@example/fluxen-provider-cohere"
    config:
      baseUrl: ${JSON.stringify(upstream.url)}
      apiKey: ${JSON.stringify(API_KEY)}
models:
  command-a:
    provider: cohere
    model: command-a-03-2025
plugins:
  - use: "@example/fluxen-optimizer-trim-history"
    failMode: closed
    timeout: 2 seconds
    config:
      maxPromptTokens: ${MAX_PROMPT_TOKENS}
`
      )
      gateway = await startFluxen(configDirectory, configPath)
      client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: "unused-by-this-gateway", maxRetries: 0 })
    }, 40_000)

    afterAll(async () => {
      if (gateway !== undefined) await stopFluxen(gateway.process)
      if (upstream !== undefined) await upstream.close()
    })

    it("loads both plugins from the installation", () => {
      const loaded = gateway.logs().filter((entry) => entry.message === "Plugin loaded")
      const packages = loaded.map((entry) => entry.annotations["plugin.package"]).sort()
      expect(packages).toEqual(["@example/fluxen-optimizer-trim-history", "@example/fluxen-provider-cohere"])
    })

    it("serves a chat through the Cohere provider", async () => {
      upstream.enqueue({ recording: recording("chat.json") })
      const before = upstream.requests.length

      const completion = await client.chat.completions.create({ model: "command-a", messages: [{ role: "user", content: "Say hello." }] })

      expect(completion.choices[0]?.message.content).toBe("Hello! How can I help you today?")
      expect(completion.usage?.prompt_tokens).toBe(12)
      expect(completion.usage?.completion_tokens).toBe(9)
      const sent = upstream.requests[before]!
      expect(sent.path).toBe("/v2/chat")
      expect(sent.headers.authorization).toBe(`Bearer ${API_KEY}`)
      expect(sent.json).toMatchObject({ model: "command-a-03-2025", stream: false, messages: [{ role: "user", content: "Say hello." }] })
    })

    it("streams a chat through the Cohere provider", async () => {
      upstream.enqueue({ recording: recording("chat-stream.sse"), writes: { bytes: 3 } })

      const stream = await client.chat.completions.create({
        model: "command-a",
        messages: [{ role: "user", content: "Greet me in French." }],
        stream: true,
        stream_options: { include_usage: true }
      })
      let text = ""
      let usage: OpenAI.CompletionUsage | null | undefined
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? ""
        if (chunk.usage) usage = chunk.usage
      }

      expect(text).toBe("Bonjour et bienvenue — ravi de vous aider ☕!")
      expect(usage?.completion_tokens).toBe(10)
    })

    it("trims a long conversation before it reaches the provider", async () => {
      // The installed optimizer computes the expected result, so the check follows its token counts.
      const optimizer = (await import(Path.join(repo, "node_modules/@example/fluxen-optimizer-trim-history/dist/index.js"))) as {
        trimHistory: (...args: Array<unknown>) => { messages: Array<{ role: string; content: string }>; removed: number }
        countMessageTokens: unknown
        countFixedTokens: (tools: unknown) => number
      }
      const messages = longConversation(20)
      const expected = optimizer.trimHistory(messages, MAX_PROMPT_TOKENS, optimizer.countMessageTokens, optimizer.countFixedTokens(undefined))
      expect(expected.removed).toBeGreaterThan(0)
      upstream.enqueue({ recording: recording("chat.json") })
      const before = upstream.requests.length

      const { response } = await client.chat.completions.create({ model: "command-a", messages }).withResponse()

      const sent = upstream.requests[before]!.json as { messages: Array<{ role: string; content: string }> }
      expect(sent.messages).toEqual(expected.messages)
      expect(sent.messages[0]).toEqual({ role: "system", content: "You are a concise assistant." })
      expect(sent.messages.at(-1)).toEqual({ role: "user", content: paragraph(20) })
      expect(response.headers.get("x-fluxen-trimmed-messages")).toBe(String(expected.removed))
      const logged = await waitForLog(gateway, (entry) => entry.message === "Trimmed conversation history")
      expect(logged.annotations["trim.removed_messages"]).toBe(expected.removed)
    })
  })
})
