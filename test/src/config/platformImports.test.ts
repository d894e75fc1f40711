/**
 * `@effect/platform` and `@effect/platform-node` load every module of the
 * package when imported by their index module, including the Swagger UI and
 * Scalar pages (about 20 MB of text). Fluxen imports each module by its own
 * path instead. That took a started gateway from about 310 to about 215 MiB of RSS.
 */
import { readdirSync, readFileSync } from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const repositoryRoot = fileURLToPath(new URL("../../../", import.meta.url))
const sourceRoots = ["runtime/src", "sdk/src", "plugins", "providers"]
// Matches static, side-effect and dynamic imports. `import type` loads nothing, so it is left out.
const indexImport = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)["']@effect\/platform(?:-node(?:-shared)?)?["']/m
const typeImport = /^\s*import\s+type\b.*$/gm

/** Lists the TypeScript sources under `directory`, leaving out tests and build output. */
const sourcesIn = (directory: string): Array<string> =>
  readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const path = Path.join(directory, entry.name)
    if (entry.isDirectory()) return entry.name === "node_modules" || entry.name === "dist" ? [] : sourcesIn(path)
    return entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts") ? [path] : []
  })

describe("platform imports", () => {
  it("no index module imports", () => {
    const sources = sourceRoots.flatMap((root) => sourcesIn(Path.join(repositoryRoot, root)))
    const offending = sources.filter((path) => indexImport.test(readFileSync(path, "utf8").replace(typeImport, "")))

    expect(sources.length).toBeGreaterThan(100)
    expect(["import { X } from \"@effect/platform\"", "await import(\"@effect/platform-node\")", "import \"@effect/platform-node-shared\""].map((text) => indexImport.test(text))).toEqual([true, true, true])
    expect(indexImport.test("import * as HttpRouter from \"@effect/platform/HttpRouter\"")).toBe(false)
    expect(offending.map((path) => Path.relative(repositoryRoot, path))).toEqual([])
  })
})
