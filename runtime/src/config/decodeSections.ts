/**
 * Decoding the provider, model and plugin entries one by one, for a file
 * that fails to decode as a whole. The entries that decode on their own
 * still get the cross-section checks and the plugin checks, so that one
 * report lists every problem. Entries that fail are left out here,
 * because the whole-file decoding reports them already.
 */
import { Either, Schema } from "effect"
import type { ConfigSections, IndexedPlugin } from "./crossCheck.js"
import { ModelEntry, PluginEntry, ProviderEntry } from "./FluxenConfig.js"

const isMapping = (value: unknown): value is Readonly<Record<string, unknown>> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const decodeEntry = <A, I>(schema: Schema.Schema<A, I>, value: unknown): A | undefined =>
  Either.getOrUndefined(Schema.decodeUnknownEither(schema, { onExcessProperty: "error" })(value))

const decodeMapping = <A, I>(schema: Schema.Schema<A, I>, value: unknown): Record<string, A> => {
  const decoded: Record<string, A> = {}
  if (!isMapping(value)) return decoded
  for (const [name, entry] of Object.entries(value)) {
    const result = decodeEntry(schema, entry)
    if (result !== undefined) decoded[name] = result
  }
  return decoded
}

const decodePlugins = (value: unknown): Array<IndexedPlugin> => {
  if (!Array.isArray(value)) return []
  const plugins: Array<IndexedPlugin> = []
  value.forEach((item: unknown, index) => {
    const entry = decodeEntry(PluginEntry, item)
    if (entry !== undefined) plugins.push({ index, entry })
  })
  return plugins
}

/** Decodes each entry of `providers`, `models` and `plugins` of a parsed file on its own. */
export const decodeSections = (raw: unknown): ConfigSections => {
  const file = isMapping(raw) ? raw : {}
  return {
    providerNames: isMapping(file.providers) ? Object.keys(file.providers) : [],
    providers: decodeMapping(ProviderEntry, file.providers),
    modelNames: new Set(isMapping(file.models) ? Object.keys(file.models) : []),
    models: decodeMapping(ModelEntry, file.models),
    plugins: decodePlugins(file.plugins)
  }
}
