/**
 * The rules plugin's configuration. Each rule's CEL expression is parsed
 * when the configuration loads, so a syntax error stops Fluxen at start
 * with the rule's name and YAML path.
 */
import { parse } from "@bufbuild/cel"
import { Schema } from "effect"

const celExpression = Schema.String.pipe(
  Schema.filter((expression) => {
    try {
      parse(expression)
      return undefined
    } catch (error) {
      return `Invalid CEL expression: ${(error as Error).message}`
    }
  })
)

const ruleBase = {
  /** Named in errors, logs and the `rule` tag. */
  name: Schema.String.pipe(Schema.minLength(1)),
  /** A CEL expression over `request`, `key`, `headers` and `metadata` that must be true for the rule to apply. */
  when: celExpression
}

export const RouteRule = Schema.Struct({ ...ruleBase, action: Schema.Literal("route"), model: Schema.String.pipe(Schema.minLength(1)) })
export const CapRule = Schema.Struct({ ...ruleBase, action: Schema.Literal("cap"), maxTokens: Schema.Int.pipe(Schema.positive()) })
export const DenyRule = Schema.Struct({
  ...ruleBase,
  action: Schema.Literal("deny"),
  /** Sent to the client with the 403; the rule's name is added. */
  message: Schema.optionalWith(Schema.String, { default: () => "The request is not allowed by the gateway's policy." })
})
export const TagRule = Schema.Struct({
  ...ruleBase,
  action: Schema.Literal("tag"),
  /** Added to the usage record's metadata. */
  tags: Schema.Record({ key: Schema.String, value: Schema.String })
})

export const Rule = Schema.Union(RouteRule, CapRule, DenyRule, TagRule)
export type Rule = typeof Rule.Type
