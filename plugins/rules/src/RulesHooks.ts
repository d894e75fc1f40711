/**
 * Applying the rules to a request before the provider call, in the order
 * they are listed: a matching `deny` rejects the request at once (403), the
 * first matching `route` sends it to another model, `cap` rules lower the
 * output token limit (the lowest cap wins), and `tag` rules add usage
 * metadata. An expression that fails to evaluate (a missing field, a type
 * mismatch) counts as not matching and is logged once per rule.
 */
import { celEnv, isCelError, parse, plan } from "@bufbuild/cel"
import { PermissionDeniedError, type RequestContext, type RequestHooks } from "@fluxen/sdk"
import { Effect } from "effect"
import { ruleBindings } from "./bindings.js"
import type { Rule } from "./RulesConfig.js"

interface CompiledRule {
  readonly rule: Rule
  readonly matches: (bindings: Record<string, unknown>) => boolean | Error
}

const compile = (rule: Rule): CompiledRule => {
  const evaluate = plan(celEnv(), parse(rule.when))
  return {
    rule,
    matches: (bindings) => {
      const result = evaluate(bindings as never)
      if (isCelError(result)) return new Error(result.message)
      return result === true
    }
  }
}

const capTokens = (context: RequestContext, cap: number): void => {
  const request = context.request as Record<string, unknown>
  for (const field of ["max_tokens", "max_completion_tokens", "max_output_tokens"]) {
    const current = request[field]
    if (typeof current === "number" && current > cap) request[field] = cap
  }
  // A null limit means "not set", as an absent one does, so both get the cap.
  if (request.max_tokens == null && request.max_completion_tokens == null && request.max_output_tokens == null) {
    request[context.endpoint === "responses" ? "max_output_tokens" : "max_tokens"] = cap
  }
}

export const makeRulesHooks = (rules: ReadonlyArray<Rule>, headerNames: ReadonlyArray<string>): RequestHooks => {
  const compiled = rules.map(compile)
  const reported = new Set<string>()

  const beforeRequest = (context: RequestContext) =>
    Effect.gen(function* () {
      const bindings = ruleBindings(context, headerNames)
      let routed = false
      let cap: number | undefined
      for (const { rule, matches } of compiled) {
        const matched = matches(bindings)
        if (matched instanceof Error) {
          if (!reported.has(rule.name)) {
            reported.add(rule.name)
            yield* Effect.logWarning("Rule expression failed to evaluate; treating it as not matching").pipe(
              Effect.annotateLogs({ rule: rule.name, error: matched.message, "request.id": context.requestId })
            )
          }
          continue
        }
        if (!matched) continue
        switch (rule.action) {
          case "deny":
            return yield* new PermissionDeniedError({ message: `${rule.message} (rule '${rule.name}')` })
          case "route":
            if (!routed) {
              routed = true
              context.request = { ...context.request, model: rule.model }
              context.caller.metadata["rule.route"] = rule.name
            }
            break
          case "cap":
            cap = cap === undefined ? rule.maxTokens : Math.min(cap, rule.maxTokens)
            break
          case "tag":
            Object.assign(context.caller.metadata, rule.tags)
            break
        }
      }
      // A token count has no output to cap, and its body has no `max_tokens` field.
      if (cap !== undefined && context.endpoint !== "count_tokens") capTokens(context, cap)
      return undefined
    })

  return { beforeRequest }
}
