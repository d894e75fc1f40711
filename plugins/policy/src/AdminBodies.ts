/**
 * The request bodies of the admin API, with snake_case field names like
 * OpenAI's API, and their decoding into a 400 that names the invalid field.
 */
import { InvalidRequestError } from "@fluxen/sdk"
import { Effect, Either, ParseResult, Schema } from "effect"
import { BudgetLimit, WarnFraction } from "./Limits.js"
import { BudgetPeriod } from "./Periods.js"

const Name = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200))
const Metadata = Schema.Record({ key: Schema.String, value: Schema.String })

const PerMinute = Schema.Int.pipe(Schema.positive())

/** A budget in the admin API; decodes to {@link BudgetLimit}. */
export const ApiBudget = Schema.Struct({
  period: BudgetPeriod,
  limitUsd: Schema.propertySignature(BudgetLimit.fields.limitUsd).pipe(Schema.fromKey("limit_usd")),
  warnAt: Schema.optionalWith(Schema.Array(WarnFraction), { exact: true }).pipe(Schema.fromKey("warn_at"))
})

/** Rate limits in the admin API; decodes to {@link RateLimits}. */
export const ApiRateLimits = Schema.Struct({
  requestsPerMinute: Schema.optionalWith(PerMinute, { exact: true }).pipe(Schema.fromKey("requests_per_minute")),
  tokensPerMinute: Schema.optionalWith(PerMinute, { exact: true }).pipe(Schema.fromKey("tokens_per_minute"))
})

const optional = <A, I>(schema: Schema.Schema<A, I>) => Schema.optionalWith(schema, { exact: true })

const keyFields = {
  team: optional(Schema.NullOr(Name)),
  /** Null or absent allows every model. */
  models: optional(Schema.NullOr(Schema.Array(Schema.String))),
  budgets: optional(Schema.Array(ApiBudget)),
  limits: optional(ApiRateLimits),
  metadata: optional(Metadata),
  expiresAt: optional(Schema.NullOr(Schema.Date)).pipe(Schema.fromKey("expires_at"))
}

export const CreateKeyBody = Schema.Struct({ name: Name, ...keyFields })
export const UpdateKeyBody = Schema.Struct({ name: optional(Name), ...keyFields })

export const CreateTeamBody = Schema.Struct({
  name: Name,
  budgets: optional(Schema.Array(ApiBudget)),
  limits: optional(ApiRateLimits),
  metadata: optional(Metadata)
})
export const UpdateTeamBody = Schema.Struct({
  budgets: optional(Schema.Array(ApiBudget)),
  limits: optional(ApiRateLimits),
  metadata: optional(Metadata)
})

/** Decodes a body, failing with a 400 that names the first invalid field. */
export const decodeBody = <A, I>(schema: Schema.Schema<A, I>, body: unknown): Effect.Effect<A, InvalidRequestError> => {
  if (body === undefined) {
    return Effect.fail(new InvalidRequestError({ message: "The request needs a JSON body.", code: "missing_body" }))
  }
  const decoded = Schema.decodeUnknownEither(schema, { errors: "first", onExcessProperty: "error" })(body)
  if (Either.isRight(decoded)) return Effect.succeed(decoded.right)
  const issue = ParseResult.ArrayFormatter.formatErrorSync(decoded.left)[0]
  const param = issue === undefined || issue.path.length === 0 ? undefined : formatParam(issue.path)
  const message = issue === undefined ? "The request body is invalid." : issue.message
  return Effect.fail(
    new InvalidRequestError({
      message: param === undefined ? `Invalid request body: ${message}` : `Invalid value for '${param}': ${message}`,
      param,
      code: "invalid_value"
    })
  )
}

/** Formats an issue path as `budgets[0].limit_usd`. */
const formatParam = (path: ReadonlyArray<PropertyKey>): string => {
  let text = ""
  for (const key of path) {
    if (typeof key === "number") text += `[${key}]`
    else text += text === "" ? String(key) : `.${String(key)}`
  }
  return text
}
