import { parseConfig } from "@fluxen/runtime"
import { Duration, Either, Redacted } from "effect"
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process"
import { copyFileSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs"
import { createServer, type AddressInfo } from "node:net"
import { availableParallelism, tmpdir } from "node:os"
import * as Path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { parse } from "yaml"
import {
  parseDockerfile,
  readComposeFile,
  readDockerignore,
  readRepositoryFile,
  repositoryRoot,
  substituteComposeValue,
  workspaceDirectories,
  type DockerInstruction
} from "./deploymentFiles.js"

type JsonObject = Record<string, any>

const exampleConfigText = readRepositoryFile("config/fluxen.yaml")
const exampleConfig = parse(exampleConfigText) as JsonObject
const compose = readComposeFile()
const dockerfile = parseDockerfile(readRepositoryFile("Dockerfile"))
const finalStage = Math.max(...dockerfile.map((instruction) => instruction.stage))

const instructionsOf = (keyword: string, stage?: number): Array<DockerInstruction> =>
  dockerfile.filter((instruction) => instruction.keyword === keyword && (stage === undefined || instruction.stage === stage))

const lastArgument = (keyword: string, stage: number): string => {
  const found = instructionsOf(keyword, stage)
  expect(found.length, `${keyword} instructions in Dockerfile stage ${stage}`).toBeGreaterThan(0)
  return found[found.length - 1]!.argument
}

/** Parses the image's command into an argument list. The exec (JSON) form is required so that signals reach node. */
const containerCommand = (): Array<string> => {
  const argument = lastArgument("CMD", finalStage)
  expect(argument.startsWith("["), "Dockerfile CMD uses the exec form").toBe(true)
  return JSON.parse(argument) as Array<string>
}

/** Parses the HEALTHCHECK command of the final stage into an argument list. */
const healthcheckCommand = (): Array<string> => {
  const argument = lastArgument("HEALTHCHECK", finalStage)
  const commandStart = argument.indexOf("CMD [")
  expect(commandStart, "HEALTHCHECK uses the exec form").toBeGreaterThan(-1)
  return JSON.parse(argument.slice(commandStart + "CMD ".length)) as Array<string>
}

const containerConfigPath = (): string => {
  const command = containerCommand()
  const index = command.indexOf("--config")
  expect(index, "Dockerfile CMD passes --config").toBeGreaterThan(-1)
  return command[index + 1]!
}

/** `KEY=value` pairs of the final stage's ENV instructions. */
const imageEnvironment = (): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const { argument } of instructionsOf("ENV", finalStage)) {
    for (const match of argument.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S+)/g)) {
      env[match[1]!] = match[2]!.replace(/^"|"$/g, "")
    }
  }
  return env
}

const fluxenService = () => {
  const service = compose.services.fluxen
  expect(service, "docker-compose.yml has a fluxen service").toBeDefined()
  expect(service!.environment, "the fluxen service's environment is a mapping").toBeTypeOf("object")
  return service!
}

/** Builds the fluxen service's environment after Compose's substitution, with the host environment empty. */
const containerEnvironment = (): Record<string, string> => {
  const env: Record<string, string> = { ...imageEnvironment() }
  for (const [name, value] of Object.entries(fluxenService().environment!)) env[name] = substituteComposeValue(String(value), {})
  return env
}

/** Loads config/fluxen.yaml with the environment the fluxen container gets. */
const loadContainerConfig = () => {
  const loaded = parseConfig(exampleConfigText, {
    source: "config/fluxen.yaml",
    directory: Path.join(repositoryRoot, "config"),
    env: containerEnvironment()
  })
  if (Either.isLeft(loaded)) throw new Error(loaded.left.message)
  return loaded.right.config
}

const defaultPortOfExampleConfig = (): number => {
  const match = /^\$\{FLUXEN_PORT:-(\d+)\}$/.exec(String(exampleConfig.server.port))
  expect(match, "server.port in config/fluxen.yaml is ${FLUXEN_PORT:-N}").not.toBeNull()
  return Number(match![1])
}

const variablesReadByExampleConfig = (): Set<string> =>
  new Set([...exampleConfigText.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)].map((match) => match[1]!))

describe("docker-compose.yml", () => {
  it("sets the variables the gateway needs", () => {
    const read = variablesReadByExampleConfig()
    const environment = fluxenService().environment!
    for (const name of ["DATABASE_URL", "FLUXEN_HOST", "OPENAI_API_KEY"]) {
      expect(read.has(name), `config/fluxen.yaml reads ${name}`).toBe(true)
      expect(Object.keys(environment), `the fluxen service sets ${name}`).toContain(name)
    }
    expect(environment.FLUXEN_HOST, "the gateway listens on all container interfaces").toBe("0.0.0.0")
    expect(environment.OPENAI_API_KEY, "the API key comes from the host environment").toMatch(/^\$\{OPENAI_API_KEY(:-[^}]*)?\}$/)
  })

  it("passes every variable the config reads", () => {
    // FLUXEN_PORT is left out on purpose, because the published port is fixed in this file. VAR is
    // the placeholder of the file's opening comment.
    const notPassed = new Set(["FLUXEN_PORT", "VAR"])
    const environment = Object.keys(fluxenService().environment!)
    for (const name of variablesReadByExampleConfig()) {
      if (notPassed.has(name)) continue
      expect(environment, `the fluxen service passes ${name}, which config/fluxen.yaml reads`).toContain(name)
    }
  })

  it("mounts the configuration directory", () => {
    const volumes = (fluxenService() as { volumes?: ReadonlyArray<string> }).volumes ?? []

    expect(volumes).toContain("./config:/app/config:ro")
  })

  it("publishes the configured port", () => {
    const defaultPort = defaultPortOfExampleConfig()
    const config = loadContainerConfig()
    expect(config.server.port, "port the container listens on").toBe(defaultPort)
    expect(config.server.host).toBe("0.0.0.0")

    const ports = fluxenService().ports ?? []
    expect(ports.length, "the fluxen service publishes a port").toBeGreaterThan(0)
    const [hostAddress, published, target] = String(ports[0]).split(":")
    expect(hostAddress, "published on the host's loopback only").toBe("127.0.0.1")
    expect(Number(target), "container side of the published port").toBe(defaultPort)
    expect(Number(published), "host side of the published port").toBe(defaultPort)

    const exposed = instructionsOf("EXPOSE", finalStage).flatMap((instruction) => instruction.argument.split(/\s+/))
    expect(exposed, "Dockerfile EXPOSE").toContain(String(defaultPort))
  })

  it("points DATABASE_URL at the postgres service", () => {
    const postgres = compose.services.postgres
    expect(postgres, "docker-compose.yml has a postgres service").toBeDefined()
    const config = loadContainerConfig()
    expect(config.usage.databaseUrl, "usage.databaseUrl in the container").toBeDefined()

    const url = new URL(Redacted.value(config.usage.databaseUrl!))
    const postgresEnv = postgres!.environment ?? {}
    expect(url.protocol).toBe("postgres:")
    expect(url.hostname, "database host is the service name").toBe("postgres")
    expect(url.port || "5432", "database port").toBe("5432")
    expect(decodeURIComponent(url.username)).toBe(postgresEnv.POSTGRES_USER)
    expect(decodeURIComponent(url.password)).toBe(postgresEnv.POSTGRES_PASSWORD)
    expect(url.pathname.slice(1), "database name").toBe(postgresEnv.POSTGRES_DB)
  })

  it("points REDIS_URL at the redis service", () => {
    expect(compose.services.redis, "docker-compose.yml has a redis service").toBeDefined()
    const url = new URL(fluxenService().environment!.REDIS_URL!)
    expect(url.protocol).toBe("redis:")
    expect(url.hostname, "redis host is the service name").toBe("redis")
    expect(url.port || "6379").toBe("6379")
  })

  it("starts fluxen after healthy dependencies", () => {
    const dependsOn = fluxenService().depends_on ?? {}
    for (const name of ["postgres", "redis"]) {
      expect(dependsOn[name]?.condition, `fluxen waits for ${name}`).toBe("service_healthy")
      expect(compose.services[name]?.healthcheck?.test, `${name} has a healthcheck`).toBeDefined()
    }
  })

  it("allows the shutdown drain before SIGKILL", () => {
    const config = loadContainerConfig()
    const grace = fluxenService().stop_grace_period
    expect(grace, "stop_grace_period of the fluxen service").toBeDefined()
    const graceMillis = Duration.toMillis(Duration.decode(grace!.replace(/^(\d+)s$/, "$1 seconds") as Duration.DurationInput))
    // After the drain, the usage writer spends up to 10 seconds writing what it still holds.
    const finalFlushMillis = 10_000
    expect(graceMillis, "stop_grace_period exceeds the drain and the final flush").toBeGreaterThan(config.server.shutdownTimeout + finalFlushMillis)
  })
})

describe("Dockerfile", () => {
  it("runs a config file that exists and is valid", () => {
    const command = containerCommand()
    expect(command.slice(0, 2)).toEqual(["runtime/bin/fluxen-node", "start"])
    expect(statSync(Path.join(repositoryRoot, command[0]!)).mode & 0o111, `${command[0]} is executable`).not.toBe(0)
    expect(existsSync(Path.join(repositoryRoot, containerConfigPath())), `${containerConfigPath()} exists`).toBe(true)
    expect(loadContainerConfig().providers).toBeDefined()
  })

  it("runs as a non-root user", () => {
    const user = lastArgument("USER", finalStage)
    expect(["root", "0"]).not.toContain(user.split(":")[0])
  })

  it("keeps the SQLite file in the volume", () => {
    const workdir = lastArgument("WORKDIR", finalStage)
    const volumes = instructionsOf("VOLUME", finalStage).map((instruction) => instruction.argument)
    const config = loadContainerConfig()
    const sqliteFile = Path.posix.resolve(workdir, Path.posix.dirname(containerConfigPath()), config.usage.sqlitePath)
    expect(volumes, "VOLUME of the directory holding the SQLite file").toContain(Path.posix.dirname(sqliteFile))
  })

  it("builds from a context with every workspace's sources", () => {
    const isIgnored = readDockerignore()
    const needed = ["package.json", "package-lock.json", "tsconfig.json", "tsconfig.base.json", containerConfigPath(), "config/pricing.json"]
    for (const directory of workspaceDirectories()) {
      needed.push(`${directory}/package.json`)
      if (existsSync(Path.join(repositoryRoot, directory, "tsconfig.json"))) needed.push(`${directory}/tsconfig.json`)
      if (existsSync(Path.join(repositoryRoot, directory, "src"))) needed.push(`${directory}/src/index.ts`)
    }
    for (const path of needed) expect(isIgnored(path), `.dockerignore leaves out ${path}`).toBe(false)
  })

  it("leaves host builds out of the context", () => {
    const isIgnored = readDockerignore()
    const hostOnly = ["node_modules/effect/package.json", "runtime/dist/index.js", "sdk/node_modules/x", "runtime/dist/.tsbuildinfo", "data/fluxen.db", ".git/HEAD", ".env", ".env.production"]
    for (const path of hostOnly) expect(isIgnored(path), `.dockerignore leaves out ${path}`).toBe(true)
  })

  it("installs, builds and prunes in the build stage", () => {
    const buildCommands = instructionsOf("RUN", 0).map((instruction) => instruction.argument).join(" && ")
    expect(buildCommands).toContain("npm ci")
    expect(buildCommands).toContain("npm run build")
    expect(buildCommands).toContain("npm prune --omit=dev")
    // The test workspace leaves the workspaces before the prune, or its dependencies stay in the image.
    expect(buildCommands.indexOf('w !== "test"')).toBeGreaterThan(buildCommands.indexOf("npm run build"))
    expect(buildCommands.indexOf('w !== "test"')).toBeLessThan(buildCommands.indexOf("npm prune --omit=dev"))
  })

  it("drops the test workspace before pruning", () => {
    const buildCommands = instructionsOf("RUN", 0).map((instruction) => instruction.argument).join(" && ")
    const script = /node -e '([^']+)'/.exec(buildCommands)?.[1]
    expect(script, "the build stage rewrites package.json with node -e").toBeDefined()
    const directory = mkdtempSync(Path.join(tmpdir(), "fluxen-dockerfile-"))
    try {
      copyFileSync(Path.join(repositoryRoot, "package.json"), Path.join(directory, "package.json"))
      execFileSync(process.execPath, ["-e", script!], { cwd: directory })
      const rewritten = JSON.parse(readFileSync(Path.join(directory, "package.json"), "utf8")) as { workspaces: Array<string> }
      const original = JSON.parse(readFileSync(Path.join(repositoryRoot, "package.json"), "utf8")) as { workspaces: Array<string> }
      expect(rewritten.workspaces).toEqual(original.workspaces.filter((workspace) => workspace !== "test"))
      expect(original.workspaces).toContain("test")
    } finally {
      rmSync(directory, { recursive: true, force: true })
    }
    const finalCopies = instructionsOf("COPY", finalStage).map((instruction) => instruction.argument)
    expect(finalCopies, "the final stage copies the built /app").toContain("--from=build /app /app")
  })
})

// ---- The container's command, run natively

const freeLoopbackPort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })

const waitForExit = (child: ChildProcess, timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null } | "timeout"> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve({ code: child.exitCode, signal: child.signalCode })
    const timer = setTimeout(() => resolve("timeout"), timeoutMs)
    child.once("exit", (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal })
    })
  })

/** Polls `url` until it returns 200. Fails with the process output when the process exits or time runs out. */
const waitForOk = async (url: string, child: ChildProcess, output: () => string, timeoutMs: number): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`The gateway exited with code ${child.exitCode} before ${url} answered:\n${output()}`)
    try {
      const response = await fetch(url)
      if (response.status === 200) return
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms:\n${output()}`)
}

/** Runs `command` on CPU 0 only, as a container limited to one CPU would. */
const onOneCpu = (command: ReadonlyArray<string>): Array<string> => ["taskset", "-c", "0", ...command]

const tasksetWorks = spawnSync("taskset", ["-c", "0", "true"]).status === 0

describe("container command", () => {
  describe("garbage collection", () => {
    const script = Path.join(repositoryRoot, "runtime/bin/fluxen-node")
    const directory = mkdtempSync(Path.join(tmpdir(), "fluxen-gc-"))
    afterAll(() => rmSync(directory, { recursive: true, force: true }))
    // The shell's variables stay out, so that a FLUXEN_GC set there does not decide.
    const baseEnv = {
      ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(FLUXEN_|OMP_)/.test(name))),
      PATH: `${Path.dirname(process.execPath)}:${process.env["PATH"] ?? ""}`
    }
    const quotaFile = (content: string | undefined): string => {
      const file = Path.join(directory, `cpu.max.${Math.random().toString(36).slice(2)}`)
      if (content !== undefined) writeFileSync(file, content)
      return file
    }
    /** Runs the script with node printing whether it got --single-threaded-gc, instead of starting the gateway. */
    const singleThreaded = (pinned: boolean, env: Record<string, string>): boolean => {
      const command = pinned ? onOneCpu([script, "start"]) : [script, "start"]
      const output = execFileSync(command[0]!, command.slice(1), {
        env: { ...baseEnv, FLUXEN_NODE_ARGS: '-p process.execArgv.includes("--single-threaded-gc")', ...env },
        encoding: "utf8",
        timeout: 20_000
      })
      return output.trim() === "true"
    }
    const cases: ReadonlyArray<readonly [string, boolean, string | undefined, Record<string, string>, boolean]> = [
      ["pinned to one CPU", true, undefined, {}, true],
      ["pinned, FLUXEN_GC=parallel", true, undefined, { FLUXEN_GC: "parallel" }, false],
      ["pinned, OMP_NUM_THREADS=4", true, undefined, { OMP_NUM_THREADS: "4" }, true],
      ["FLUXEN_GC=single", false, "max 100000\n", { FLUXEN_GC: "single" }, true],
      ["quota of one CPU", false, "100000 100000\n", {}, true],
      ["quota of half a CPU", false, "50000 100000\n", {}, true],
      ["quota of two CPUs", false, "200000 100000\n", {}, false],
      ["no quota", false, "max 100000\n", {}, false],
      ["empty quota file", false, "", {}, false],
      ["non-numeric quota", false, "1e5 100000\n", {}, false],
      ["no quota file", false, undefined, {}, false],
      ["OMP_NUM_THREADS=1, no quota", false, "max 100000\n", { OMP_NUM_THREADS: "1" }, false]
    ]
    for (const [name, pinned, quota, env, expected] of cases) {
      // Unpinned cases assume more than one CPU, and pinned ones need taskset.
      const runnable = pinned ? tasksetWorks : availableParallelism() > 1
      it.runIf(runnable)(`${name}: ${expected ? "single-threaded" : "parallel"}`, () => {
        expect(singleThreaded(pinned, { FLUXEN_CPU_MAX_FILE: quotaFile(quota), ...env })).toBe(expected)
      })
    }
  })

  it("serves and shuts down on SIGTERM", { timeout: 60_000 }, async () => {
    // A stand-in for the image's /app: the built runtime and dependencies, and a copy of config/,
    // so that the SQLite file (sqlitePath ../data/fluxen.db) lands in this directory's data/.
    const appDirectory = mkdtempSync(Path.join(tmpdir(), "fluxen-container-"))
    symlinkSync(Path.join(repositoryRoot, "runtime"), Path.join(appDirectory, "runtime"))
    symlinkSync(Path.join(repositoryRoot, "node_modules"), Path.join(appDirectory, "node_modules"))
    cpSync(Path.join(repositoryRoot, "config"), Path.join(appDirectory, "config"), { recursive: true })

    const port = await freeLoopbackPort()
    const inherited = Object.fromEntries(
      Object.entries(process.env).filter(([name]) => !/^(FLUXEN_|OPENAI_|DATABASE_URL$)/.test(name))
    )
    const env = {
      ...inherited,
      ...imageEnvironment(),
      // Loopback instead of the image's 0.0.0.0, and an upstream that is never called here.
      FLUXEN_HOST: "127.0.0.1",
      FLUXEN_PORT: String(port),
      DATABASE_URL: "",
      OPENAI_API_KEY: "",
      OPENAI_BASE_URL: "http://127.0.0.1:9/v1"
    }
    const [program, ...args] = containerCommand()

    let output = ""
    // On one CPU, as containers often are, so that the gateway runs with the options it gets there.
    const command = tasksetWorks ? onOneCpu([program!, ...args]) : [program!, ...args]
    const child = spawn(command[0]!, command.slice(1), {
      cwd: appDirectory,
      env: { ...env, PATH: `${Path.dirname(process.execPath)}:${process.env["PATH"] ?? ""}` },
      stdio: ["ignore", "pipe", "pipe"]
    })
    child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()))
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()))
    const base = `http://127.0.0.1:${port}`

    try {
      await waitForOk(`${base}/healthz`, child, () => output, 30_000)

      const ready = await fetch(`${base}/readyz`)
      expect(ready.status, "/readyz").toBe(200)

      const models = (await (await fetch(`${base}/v1/models`)).json()) as { data: Array<{ id: string }> }
      expect(models.data.map((model) => model.id).sort()).toEqual(Object.keys(exampleConfig.models).sort())
      if (tasksetWorks) expect(output).toMatch(/Fluxen is listening.*\bgc=single-threaded/)

      // The image's HEALTHCHECK command, run as Docker would inside the container; it throws on a non-zero exit.
      const [healthProgram, ...healthArgs] = healthcheckCommand()
      expect(healthProgram).toBe("node")
      execFileSync(process.execPath, healthArgs, { env, timeout: 10_000 })

      child.kill("SIGTERM")
      const exit = await waitForExit(child, 15_000)
      expect(exit, `exit after SIGTERM; output:\n${output}`).toEqual({ code: 0, signal: null })
      expect(existsSync(Path.join(appDirectory, "data", "fluxen.db")), "SQLite file in <app>/data").toBe(true)
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
      rmSync(appDirectory, { recursive: true, force: true })
    }
  })
})
