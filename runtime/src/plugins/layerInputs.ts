/**
 * The key under which a reload compares a plugin entry with the running
 * instance: everything the plugin's layer reads, serialized so that equal
 * values give equal text whatever the order of keys in the YAML.
 */
import type { ConvertedValue } from "../config/interpolateEnv.js"
import type { PluginRequest } from "./PluginLoader.js"

const isPlainObject = (value: unknown): value is Record<string, unknown> => {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false
  const prototype = Object.getPrototypeOf(value)
  return prototype === Object.prototype || prototype === null
}

/**
 * Returns `value` as JSON with the keys of every plain object sorted, so that two objects
 * with the same entries in another order give the same text. Arrays keep their order.
 */
export const sortedKeysJson = (value: unknown): string =>
  JSON.stringify(value, (_key, item: unknown) =>
    isPlainObject(item) ? Object.fromEntries(Object.keys(item).sort().map((key) => [key, item[key]])) : item
  )

const compareText = (a: string, b: string): number => {
  if (a < b) return -1
  if (a > b) return 1
  return 0
}

/** Returns the values converted from `${VAR}` sorted by path, because their list follows the order of keys in the YAML. */
const sortedByPath = (converted: ReadonlyArray<ConvertedValue>): Array<ConvertedValue> =>
  converted
    .map((entry) => ({ key: JSON.stringify(entry.path), entry }))
    .sort((a, b) => compareText(a.key, b.key))
    .map(({ entry }) => entry)

/**
 * Returns what a plugin's layer can read, as JSON: its package, its instance name, its raw
 * section, the values in it that came from `${VAR}` references, and the configuration
 * directory (the `PluginHost` facts and the config it decodes). The order of keys in the
 * section does not matter, while the order of items in its lists does.
 *
 * NOTE: this is complete only while the plugin contract stays as it is. A layer also gets the
 * host's `HttpTransport` and `SqlClient`, but those come from the `upstream` and `usage`
 * sections, which only a restart applies. Plugins exchange data per request, never services,
 * so a restart of one never needs a restart of another. Files that a plugin reads itself,
 * such as an ONNX model directory, are not compared.
 */
export const layerInputs = (request: PluginRequest, configDirectory: string): string =>
  sortedKeysJson([
    request.packageName,
    request.instanceName,
    configDirectory,
    request.config ?? null,
    sortedByPath(request.converted ?? [])
  ])
