import * as Schema from "effect/Schema"

/** OpenAI- or Anthropic-compatible API surface that served the request. `count_tokens` is Anthropic's token counting route. */
export type UsageEndpoint = "chat" | "completions" | "embeddings" | "responses" | "messages" | "count_tokens"

/** Outcome of a proxied request: `cancelled` means the client went away before the response finished. */
export type UsageStatus = "ok" | "error" | "cancelled"

/** Response cache outcome, `semantic-hit` being a hit found by embedding similarity. */
export type UsageCacheStatus = "hit" | "miss" | "semantic-hit" | "bypass"

/**
 * Usage of one proxied request, written once per request by the `UsageWriter`.
 *
 * Token counts are `null` when neither the provider nor Fluxen counted them.
 * Costs are in US dollars, and a `null` cost means the price is unknown (it is never reported as 0).
 */
export interface UsageRecord {
  /** Gateway request id, unique per proxied request. */
  readonly requestId: string
  /** Time the request started. */
  readonly createdAt: Date
  readonly keyId: string | null
  readonly team: string | null
  /** Model name as the client sent it, which may be an alias, or empty when the request named none. */
  readonly requestedModel: string
  /** Model name sent upstream, or `null` when the request failed before routing. */
  readonly resolvedModel: string | null
  readonly provider: string | null
  readonly endpoint: UsageEndpoint
  readonly status: UsageStatus
  /** HTTP status sent to the client. */
  readonly httpStatus: number
  readonly stream: boolean
  readonly promptTokens: number | null
  readonly completionTokens: number | null
  readonly cachedInputTokens: number | null
  readonly cacheWriteTokens: number | null
  /** The part of `cacheWriteTokens` written to a 1-hour prompt cache (Anthropic), priced above 5-minute writes. */
  readonly cacheWrite1hTokens: number | null
  readonly reasoningTokens: number | null
  /** True when Fluxen counted the tokens itself because the provider reported none. */
  readonly usageEstimated: boolean
  readonly costUsd: number | null
  /** Version of the price table that produced `costUsd`. */
  readonly priceVersion: string | null
  readonly cacheStatus: UsageCacheStatus | null
  /** Upstream cost avoided by serving the response from the cache. */
  readonly costSavedUsd: number | null
  /** Cosine similarity of the cached question a semantic cache hit answered from. */
  readonly cacheSimilarity: number | null
  /** Milliseconds from request start to the first response byte sent to the client. */
  readonly firstByteMs: number | null
  /** Milliseconds from request start to the end of the response. */
  readonly totalMs: number
  /** Error family for `status: "error"`, such as `upstream_timeout`. */
  readonly errorType: string | null
  readonly metadata: Readonly<Record<string, string>> | null
}

/**
 * Schema of a usage record for API output: `createdAt` encodes to an ISO 8601 string and every
 * other field to itself.
 */
export const UsageRecordSchema = Schema.Struct({
  requestId: Schema.String,
  createdAt: Schema.Date,
  keyId: Schema.NullOr(Schema.String),
  team: Schema.NullOr(Schema.String),
  requestedModel: Schema.String,
  resolvedModel: Schema.NullOr(Schema.String),
  provider: Schema.NullOr(Schema.String),
  endpoint: Schema.Literal("chat", "completions", "embeddings", "responses", "messages", "count_tokens"),
  status: Schema.Literal("ok", "error", "cancelled"),
  httpStatus: Schema.Number,
  stream: Schema.Boolean,
  promptTokens: Schema.NullOr(Schema.Number),
  completionTokens: Schema.NullOr(Schema.Number),
  cachedInputTokens: Schema.NullOr(Schema.Number),
  cacheWriteTokens: Schema.NullOr(Schema.Number),
  cacheWrite1hTokens: Schema.NullOr(Schema.Number),
  reasoningTokens: Schema.NullOr(Schema.Number),
  usageEstimated: Schema.Boolean,
  costUsd: Schema.NullOr(Schema.Number),
  priceVersion: Schema.NullOr(Schema.String),
  cacheStatus: Schema.NullOr(Schema.Literal("hit", "miss", "semantic-hit", "bypass")),
  costSavedUsd: Schema.NullOr(Schema.Number),
  cacheSimilarity: Schema.NullOr(Schema.Number),
  firstByteMs: Schema.NullOr(Schema.Number),
  totalMs: Schema.Number,
  errorType: Schema.NullOr(Schema.String),
  metadata: Schema.NullOr(Schema.Record({ key: Schema.String, value: Schema.String }))
})

// Compile-time check that the schema and the interface describe the same type: each line fails
// to compile when one side gains or changes a field that the other lacks.
type Assignable<T extends U, U> = T
type UsageRecordSchemaMatchesInterface = [
  Assignable<typeof UsageRecordSchema.Type, UsageRecord>,
  Assignable<UsageRecord, typeof UsageRecordSchema.Type>
]
