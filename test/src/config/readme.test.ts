/**
 * Checks that README.md covers what the example configuration and the
 * gateway expose to a user: environment variables, npm scripts and error codes.
 */
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"

const repository = new URL("../../../", import.meta.url)
const readme = readFileSync(new URL("README.md", repository), "utf8")
const exampleConfig = readFileSync(new URL("config/fluxen.yaml", repository), "utf8")
const scripts = (JSON.parse(readFileSync(new URL("package.json", repository), "utf8")) as { scripts: Record<string, string> }).scripts

/** Returns the text of the README section under `## title`, up to the next section. */
const section = (title: string): string => {
  const start = readme.indexOf(`\n## ${title}\n`)
  expect(start, `README.md has no section "## ${title}"`).toBeGreaterThanOrEqual(0)
  const end = readme.indexOf("\n## ", start + 1)
  return readme.slice(start, end === -1 ? undefined : end)
}

/** Error codes that the runtime and the bundled cache plugin return to clients. */
const errorCodes = [
  "invalid_json",
  "invalid_value",
  "unsupported_endpoint",
  "invalid_header",
  "invalid_admin_key",
  "model_not_found",
  "not_found",
  "method_not_allowed",
  "request_too_large",
  "upstream_unreachable",
  "upstream_invalid_response",
  "upstream_timeout",
  "plugin_failed",
  "internal_error"
]

describe("README.md", () => {
  it("documents the example's environment variables", () => {
    // Commented-out lines are optional examples, so only the variables of active lines must be documented.
    const activeLines = exampleConfig.split("\n").filter((line) => !line.trimStart().startsWith("#"))
    const variables = new Set(activeLines.flatMap((line) => [...line.matchAll(/\$\{([A-Z0-9_]+)/g)].map((match) => match[1]!)))

    expect(variables.size).toBeGreaterThan(0)
    for (const variable of variables) {
      expect(readme, `${variable} is read by config/fluxen.yaml`).toMatch(new RegExp(`\\b${variable}\\b`))
    }
  })

  it("lists the gateway's error codes", () => {
    const errors = section("Errors")

    for (const code of errorCodes) {
      expect(errors, code).toContain(`\`${code}\``)
    }
  })

  it("names only existing npm scripts", () => {
    const named = [readme, exampleConfig].flatMap((text) => [...text.matchAll(/npm run ([a-z][a-z0-9:-]*)/g)].map((match) => match[1]!))

    expect(named).toContain("fluxen")
    for (const name of named) {
      expect(Object.keys(scripts), `npm run ${name}`).toContain(name)
    }
  })
})
