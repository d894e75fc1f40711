/**
 * The scope of a spend series: the whole gateway, one key, one team or one
 * model. The configuration and the `scope` query parameter write it as
 * `global`, `key:<id>`, `team:<name>` or `model:<name>`.
 */
import { Either, Schema } from "effect"

export type SpendScope =
  | { readonly kind: "global" }
  | { readonly kind: "key" | "team" | "model"; readonly name: string }

const SCOPE_KINDS = new Set(["key", "team", "model"])

/** Parses a scope; the name is everything after the first colon, so `key:static:alice` names the key `static:alice`. */
export const parseSpendScope = (text: string): Either.Either<SpendScope, string> => {
  if (text === "global") return Either.right({ kind: "global" })
  const colon = text.indexOf(":")
  const kind = colon < 0 ? text : text.slice(0, colon)
  const name = colon < 0 ? "" : text.slice(colon + 1)
  if (!SCOPE_KINDS.has(kind)) {
    return Either.left(`Invalid scope ${JSON.stringify(text)}: expected global, key:<id>, team:<name> or model:<name>`)
  }
  if (name === "") return Either.left(`Invalid scope ${JSON.stringify(text)}: the ${kind} name is missing after "${kind}:"`)
  return Either.right({ kind: kind as "key" | "team" | "model", name })
}

/** Formats a scope the way `parseSpendScope` reads it. */
export const formatSpendScope = (scope: SpendScope): string => (scope.kind === "global" ? "global" : `${scope.kind}:${scope.name}`)

/** A scope written as text, checked when the configuration is decoded. */
export const SpendScopeText = Schema.String.pipe(
  Schema.filter((text) => Either.match(parseSpendScope(text), { onLeft: (message) => message, onRight: () => true }))
)
