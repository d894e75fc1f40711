/**
 * Lists the module specifiers a compiled ES module imports, for checking what
 * a published package depends on at run time.
 */

// Static `import ... from "x"`, side-effect `import "x"`, `export ... from "x"`,
// dynamic `import("x")` and `require("x")`. The clause before `from` contains no
// quotes or semicolons, so a match never runs into the next statement.
const patterns: ReadonlyArray<RegExp> = [
  /(?:^|[;\s])import\s*(?:[^;'"()]*?\s*from\s*)?["']([^"']+)["']/g,
  /(?:^|[;\s])export\s*[^;'"()]*?\s*from\s*["']([^"']+)["']/g,
  /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g,
  /\brequire\s*\(\s*["']([^"']+)["']\s*\)/g
]

/** Returns the specifiers `source` imports, each once, in first-seen order. */
export const importedSpecifiers = (source: string): Array<string> => {
  const found = new Set<string>()
  for (const pattern of patterns) {
    for (const match of source.matchAll(pattern)) found.add(match[1]!)
  }
  return [...found]
}

/** Returns the package a bare specifier names: `@scope/name` or `name`, without a subpath. */
export const packageOf = (specifier: string): string => {
  const parts = specifier.split("/")
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!
}
