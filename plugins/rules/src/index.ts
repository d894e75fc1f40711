/**
 * The rules plugin: conditional routing, output caps, denials and usage
 * tags, written as CEL expressions in `fluxen.yaml`. List it after the
 * plugins whose facts the rules read: the analyzer (`estimated_tokens`)
 * and the policy plugin (`key.id`, `key.team`).
 */
import { definePlugin, isRoutableModel, Plugin, SDK_API_VERSION, type PluginConfigIssue } from "@fluxen/sdk"
import { Layer, Schema } from "effect"
import { makeRulesHooks } from "./RulesHooks.js"
import { Rule } from "./RulesConfig.js"

export { Rule } from "./RulesConfig.js"
export { makeRulesHooks } from "./RulesHooks.js"

export const RulesPluginConfig = Schema.Struct({
  rules: Schema.Array(Rule),
  /**
   * Request headers rules may read as `headers["name"]`, in lowercase. A listed header that the
   * request does not send reads as "". Credential headers are never exposed.
   */
  headers: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] })
}).pipe(
  Schema.filter((config) => {
    const seen = new Set<string>()
    for (const [index, rule] of config.rules.entries()) {
      if (seen.has(rule.name)) return { path: ["rules", index, "name"], message: `The rule name '${rule.name}' is used twice.` }
      seen.add(rule.name)
    }
    return undefined
  })
)

export default definePlugin({
  name: "@fluxen/rules",
  version: "0.1.0",
  sdkApiVersion: SDK_API_VERSION,
  configSchema: RulesPluginConfig,
  // A route rule to a model that no request could use would fail every matching request with 404.
  checkConfig: (config, context) =>
    config.rules.flatMap((rule, index): ReadonlyArray<PluginConfigIssue> =>
      rule.action === "route" && isRoutableModel(rule.model, context) === false
        ? [
            {
              path: ["rules", index, "model"],
              message: `The model '${rule.model}' is neither under models: nor a provider/model name of a configured provider, so the rule '${rule.name}' would fail every matching request with 404. Add the model under models: or fix the name.`
            }
          ]
        : []
    ),
  layer: (config) =>
    Layer.succeed(Plugin, {
      hooks: makeRulesHooks(config.rules, config.headers.map((name) => name.toLowerCase()))
    })
})
