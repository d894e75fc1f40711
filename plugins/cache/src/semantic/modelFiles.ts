/**
 * The files of the `onnx` embedder's model directory: `model.onnx`, else
 * `onnx/model.onnx`, and `tokenizer.json`. The config check and the
 * embedder both find them here, so `fluxen check-config` looks where the
 * embedder loads from.
 */
import { statSync, type Stats } from "node:fs"
import * as Path from "node:path"

/** Resolves a configured model directory against the directory of the configuration file, as the plugin does at start. */
export const resolveModelDirectory = (configDirectory: string, modelDirectory: string): string =>
  Path.resolve(configDirectory, modelDirectory)

/** Returns the path of the tokenizer file in a model directory. */
export const tokenizerFileOf = (directory: string): string => Path.join(directory, "tokenizer.json")

const modelFileCandidates = (directory: string): ReadonlyArray<string> => [
  Path.join(directory, "model.onnx"),
  Path.join(directory, "onnx", "model.onnx")
]

/** Returns the `stat` of a path, or undefined when it does not exist. Throws other errors, such as a denied permission. */
const statOf = (path: string): Stats | undefined => {
  try {
    return statSync(path)
  } catch (error) {
    // ENOTDIR: a part of the path is a file, so the path does not exist either.
    const code = (error as NodeJS.ErrnoException).code
    if (code === "ENOENT" || code === "ENOTDIR") return undefined
    throw error
  }
}

const isFile = (path: string): boolean => statOf(path)?.isFile() === true

/** Returns the model file of a directory: `model.onnx`, else `onnx/model.onnx`, or undefined when neither is a file. */
export const findModelFile = (directory: string): string | undefined => modelFileCandidates(directory).find(isFile)

/**
 * Lists what keeps the embedder from loading a model directory: the
 * directory missing, or one of its files. Returns no message when every file
 * is there. The files are only looked up, not read.
 */
export const missingModelFiles = (directory: string): ReadonlyArray<string> => {
  let stats: Stats | undefined
  try {
    stats = statOf(directory)
  } catch (error) {
    return [`Reading the model directory ${directory} failed: ${(error as Error).message}`]
  }
  if (stats === undefined) {
    return [
      `The model directory ${directory} does not exist. Put the model's files there (model.onnx or onnx/model.onnx, and tokenizer.json), ` +
        "or fix the path. A relative path is resolved against the directory of the configuration file."
    ]
  }
  if (!stats.isDirectory()) return [`${directory} is not a directory. Set the directory that contains the model's files.`]

  const problems: Array<string> = []
  try {
    if (findModelFile(directory) === undefined) {
      problems.push(`No model.onnx or onnx/model.onnx was found in ${directory}. Export the model to ONNX into that directory.`)
    }
    if (!isFile(tokenizerFileOf(directory))) {
      problems.push(`No tokenizer.json was found in ${directory}. Copy the tokenizer.json of the model's repository into it.`)
    }
  } catch (error) {
    problems.push(`Reading the model directory ${directory} failed: ${(error as Error).message}`)
  }
  return problems
}
