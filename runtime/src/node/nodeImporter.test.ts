import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as Path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { PackageChangedError } from "../plugins/PluginLoadError.js"
import { makeNodeImporter } from "./nodeImporter.js"

const directories: Array<string> = []

afterEach(() => {
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true })
})

/** Writes a package beside a configuration file whose default export names its version. */
const installPackage = (directory: string, packageName: string, version: string): void => {
  const packageDirectory = Path.join(directory, "node_modules", ...packageName.split("/"))
  mkdirSync(packageDirectory, { recursive: true })
  writeFileSync(
    Path.join(packageDirectory, "package.json"),
    JSON.stringify({ name: packageName, version, type: "module", exports: { ".": { default: "./index.js" } } })
  )
  writeFileSync(Path.join(packageDirectory, "index.js"), `export default { version: ${JSON.stringify(version)} }\n`)
}

const makeConfigDirectory = (): string => {
  const directory = mkdtempSync(Path.join(tmpdir(), "fluxen-importer-"))
  directories.push(directory)
  return directory
}

describe("makeNodeImporter", () => {
  it("imports a package beside the configuration", async () => {
    const directory = makeConfigDirectory()
    installPackage(directory, "@acme/fluxen-first", "1.0.0")
    const importer = makeNodeImporter({ configDirectory: directory, workingDirectory: directory })

    const module = (await importer("@acme/fluxen-first")) as { default: { version: string } }

    expect(module.default.version).toBe("1.0.0")
  })

  it("upgraded package: rejects the reimport", async () => {
    const directory = makeConfigDirectory()
    installPackage(directory, "@acme/fluxen-upgraded", "1.0.0")
    await makeNodeImporter({ configDirectory: directory, workingDirectory: directory })("@acme/fluxen-upgraded")
    installPackage(directory, "@acme/fluxen-upgraded", "1.1.0")

    // A reload makes a new importer, as the `start` command does for each SIGHUP.
    const reimport = makeNodeImporter({ configDirectory: directory, workingDirectory: directory })("@acme/fluxen-upgraded")

    const error = await reimport.then(
      () => undefined,
      (cause: unknown) => cause
    )
    expect(error).toBeInstanceOf(PackageChangedError)
    expect((error as PackageChangedError).message).toContain("from version 1.0.0 to 1.1.0")
    expect((error as PackageChangedError).message).toContain("Restart Fluxen")
  })

  it("unchanged package: imports again", async () => {
    const directory = makeConfigDirectory()
    installPackage(directory, "@acme/fluxen-steady", "2.0.0")
    await makeNodeImporter({ configDirectory: directory, workingDirectory: directory })("@acme/fluxen-steady")

    const module = (await makeNodeImporter({ configDirectory: directory, workingDirectory: directory })("@acme/fluxen-steady")) as {
      default: { version: string }
    }

    expect(module.default.version).toBe("2.0.0")
  })
})
