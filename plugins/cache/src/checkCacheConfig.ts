/**
 * The cache plugin's `checkConfig`: the checks of its section that need the
 * file system, which its schema cannot make. `fluxen check-config` and
 * `fluxen start` run them before any plugin starts.
 */
import type { PluginConfigContext, PluginConfigIssue } from "@fluxen/sdk"
import type { CacheConfig } from "./CacheConfig.js"
import { missingModelFiles, resolveModelDirectory } from "./semantic/modelFiles.js"

/**
 * Checks that the `onnx` embedder's model directory contains the files it loads.
 * A semantic cache that is not enabled loads no model, so its directory is not checked.
 */
export const checkCacheConfig = (config: CacheConfig, context: PluginConfigContext): ReadonlyArray<PluginConfigIssue> => {
  const semantic = config.semantic
  if (semantic?.enabled !== true || semantic.embedder.type !== "onnx") return []
  const directory = resolveModelDirectory(context.configDirectory, semantic.embedder.modelDirectory)
  return missingModelFiles(directory).map((message) => ({ path: ["semantic", "embedder", "modelDirectory"], message }))
}
