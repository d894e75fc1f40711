/**
 * The scope of a spend series: the whole gateway, one key, one team, one
 * model or one requested model. The configuration and the `scope` query
 * parameter write it as `global`, `key:<id>`, `team:<name>`, `model:<name>`
 * or `requested_model:<name>`.
 */
import { Either, Schema } from "effect"

export type SpendScopeKind = "key" | "team" | "model" | "requested_model"

export type SpendScope =
  | { readonly kind: "global" }
  | { readonly kind: SpendScopeKind; readonly name: string }

const SCOPE_KINDS: ReadonlySet<string> = new Set<SpendScopeKind>(["key", "team", "model", "requested_model"])

const isScopeKind = (kind: string): kind is SpendScopeKind => SCOPE_KINDS.has(kind)

/**
 * Name that selects the records without a value, such as `team:(none)`. It is the group label
 * that the usage API reports for them.
 */
export const NO_VALUE_NAME = "(none)"

/** Parses a scope; the name is everything after the first colon, so `key:static:alice` names the key `static:alice`. */
export const parseSpendScope = (text: string): Either.Either<SpendScope, string> => {
  if (text === "global") return Either.right({ kind: "global" })
  const colon = text.indexOf(":")
  const kind = colon < 0 ? text : text.slice(0, colon)
  const name = colon < 0 ? "" : text.slice(colon + 1)
  if (!isScopeKind(kind)) {
    return Either.left(
      `Invalid scope ${JSON.stringify(text)}: expected global, key:<id>, team:<name>, model:<name> or requested_model:<name>`
    )
  }
  if (name === "") return Either.left(`Invalid scope ${JSON.stringify(text)}: the ${kind} name is missing after "${kind}:"`)
  return Either.right({ kind, name })
}

/** Formats a scope the way `parseSpendScope` reads it. */
export const formatSpendScope = (scope: SpendScope): string => (scope.kind === "global" ? "global" : `${scope.kind}:${scope.name}`)

/** A scope written as text, checked when the configuration is decoded. */
export const SpendScopeText = Schema.String.pipe(
  Schema.filter((text) => Either.match(parseSpendScope(text), { onLeft: (message) => message, onRight: () => true }))
)
