/**
 * Readers for the deployment files at the repository root (Dockerfile,
 * docker-compose.yml, package.json workspaces), for tests that check them
 * against each other and against config/fluxen.yaml. No Docker engine is
 * needed: the files are parsed, not run.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { parse } from "yaml"

export const repositoryRoot = fileURLToPath(new URL("../../../", import.meta.url))

export const readRepositoryFile = (relativePath: string): string => readFileSync(Path.join(repositoryRoot, relativePath), "utf8")

export interface DockerInstruction {
  /** Upper-case instruction name, such as `COPY`. */
  readonly keyword: string
  /** The text after the keyword, with continuation lines joined. */
  readonly argument: string
  /** 0 for the first `FROM` stage, 1 for the second, and so on. */
  readonly stage: number
}

/** Splits a Dockerfile into instructions, joining lines that end in a backslash and skipping comments. */
export const parseDockerfile = (text: string): Array<DockerInstruction> => {
  const instructions: Array<DockerInstruction> = []
  let stage = -1
  let pending = ""
  for (const rawLine of text.split("\n")) {
    const line = rawLine.trim()
    if (pending === "" && (line === "" || line.startsWith("#"))) continue
    if (line.startsWith("#")) continue
    if (line.endsWith("\\")) {
      pending += `${line.slice(0, -1).trim()} `
      continue
    }
    const whole = `${pending}${line}`.trim()
    pending = ""
    if (whole === "") continue
    const space = whole.search(/\s/)
    const keyword = (space === -1 ? whole : whole.slice(0, space)).toUpperCase()
    const argument = space === -1 ? "" : whole.slice(space + 1).trim()
    if (keyword === "FROM") stage++
    instructions.push({ keyword, argument, stage })
  }
  return instructions
}

/** Lists the package directories that the root package.json names as workspaces, with `*` patterns expanded. */
export const workspaceDirectories = (): Array<string> => {
  const manifest = JSON.parse(readRepositoryFile("package.json")) as { workspaces: Array<string> }
  const directories: Array<string> = []
  for (const pattern of manifest.workspaces) {
    if (!pattern.endsWith("/*")) {
      directories.push(pattern)
      continue
    }
    const parent = pattern.slice(0, -2)
    for (const entry of readdirSync(Path.join(repositoryRoot, parent), { withFileTypes: true })) {
      if (entry.isDirectory() && existsSync(Path.join(repositoryRoot, parent, entry.name, "package.json"))) {
        directories.push(`${parent}/${entry.name}`)
      }
    }
  }
  return directories
}

export interface ComposeService {
  readonly image?: string
  readonly build?: unknown
  readonly ports?: Array<string>
  readonly environment?: Record<string, string>
  readonly depends_on?: Record<string, { readonly condition?: string }>
  readonly healthcheck?: { readonly test?: Array<string> | string }
  readonly stop_grace_period?: string
}

export interface ComposeFile {
  readonly services: Record<string, ComposeService>
  readonly volumes?: Record<string, unknown>
}

export const readComposeFile = (): ComposeFile => parse(readRepositoryFile("docker-compose.yml")) as ComposeFile

/**
 * Applies Compose's own `${VAR:-default}` substitution to an environment
 * value, reading `hostEnv` for the host's variables.
 */
export const substituteComposeValue = (value: string, hostEnv: Record<string, string>): string =>
  value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_, name: string, fallback: string | undefined) => {
    const found = hostEnv[name]
    return found !== undefined && found !== "" ? found : (fallback ?? "")
  })

const dockerignorePatternToRegExp = (pattern: string): RegExp => {
  let source = ""
  for (let index = 0; index < pattern.length; index++) {
    const character = pattern[index]!
    if (character === "*" && pattern[index + 1] === "*") {
      // `**/` matches any number of directories, including none.
      source += pattern[index + 2] === "/" ? "(?:.*/)?" : ".*"
      index += pattern[index + 2] === "/" ? 2 : 1
    } else if (character === "*") {
      source += "[^/]*"
    } else if (character === "?") {
      source += "[^/]"
    } else {
      source += character.replace(/[.+^${}()|[\]\\]/g, "\\$&")
    }
  }
  return new RegExp(`^${source}$`)
}

/**
 * Builds a predicate that returns true when `.dockerignore` leaves a path of
 * the build context out. A pattern that matches a directory leaves out all of
 * its contents, and a later `!pattern` takes a path back in, as Docker does.
 */
export const readDockerignore = (): ((relativePath: string) => boolean) => {
  const rules = readRepositoryFile(".dockerignore")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => {
      const negated = line.startsWith("!")
      const pattern = (negated ? line.slice(1) : line).replace(/^\/+/, "").replace(/\/+$/, "")
      return { negated, expression: dockerignorePatternToRegExp(pattern) }
    })

  return (relativePath) => {
    const parts = relativePath.split("/")
    const prefixes = parts.map((_, index) => parts.slice(0, index + 1).join("/"))
    let ignored = false
    for (const rule of rules) {
      if (prefixes.some((prefix) => rule.expression.test(prefix))) ignored = !rule.negated
    }
    return ignored
  }
}
