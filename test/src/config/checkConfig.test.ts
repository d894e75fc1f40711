import { spawnSync } from "node:child_process"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const repository = fileURLToPath(new URL("../../../", import.meta.url))
const cli = Path.join(repository, "runtime", "dist", "bin", "fluxen.js")
const exampleConfig = Path.join(repository, "config", "fluxen.yaml")

const checkConfig = (env: Record<string, string>) =>
  spawnSync(process.execPath, [cli, "check-config", exampleConfig], { env: { ...process.env, ...env }, encoding: "utf8", timeout: 60_000 })

describe("fluxen check-config", () => {
  it("accepts the example configuration", () => {
    const result = checkConfig({})
    expect(result.status).toBe(0)
    expect(result.stdout).toContain("is valid")
  })

  it("runs through npm run fluxen", () => {
    // README.md and config/fluxen.yaml give this command, because npm ci puts no `fluxen` on the PATH.
    const result = spawnSync("npm", ["run", "--silent", "fluxen", "--", "check-config", "config/fluxen.yaml"], {
      cwd: repository,
      encoding: "utf8",
      timeout: 120_000
    })
    expect(result.stderr).not.toContain("Missing script")
    expect(result.status).toBe(0)
    expect(result.stdout).toContain("config/fluxen.yaml is valid.")
  }, 120_000)

  it("checks plugin sections with the plugin's schema", () => {
    const result = checkConfig({ FLUXEN_CACHE_STORE: "disk" })
    expect(result.status).toBe(1)
    expect(result.stderr).toContain("plugins[1].config.store")
  })
})
