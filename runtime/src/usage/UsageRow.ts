import type { UsageCacheStatus, UsageEndpoint, UsageRecord, UsageStatus } from "./UsageRecord.js"

/** SQL dialects that the usage store supports. */
export type UsageDialect = "pg" | "sqlite"

/** Value bound to one column of `fluxen_usage`. */
export type UsageColumnValue = string | number | boolean | Date | null

/** Columns of `fluxen_usage` that an INSERT binds, in table order. */
export const usageColumns = [
  "request_id",
  "created_at",
  "key_id",
  "team",
  "requested_model",
  "resolved_model",
  "provider",
  "endpoint",
  "status",
  "http_status",
  "stream",
  "prompt_tokens",
  "completion_tokens",
  "cached_input_tokens",
  "cache_write_tokens",
  "reasoning_tokens",
  "usage_estimated",
  "cost_usd",
  "price_version",
  "cache_status",
  "cost_saved_usd",
  "first_byte_ms",
  "total_ms",
  "error_type",
  "metadata",
  "cache_similarity",
  "cache_write_1h_tokens"
] as const

type UsageColumn = (typeof usageColumns)[number]

/** One `fluxen_usage` row as bound for an INSERT, keyed by column name. */
export type UsageRow = Record<UsageColumn, UsageColumnValue>

// PostgreSQL rejects the NUL character in text and jsonb values, so one client-sent model name
// containing it would fail every retry of its batch. Both dialects store U+FFFD instead, so they
// return the same text.
const replaceNul = (text: string): string => (text.includes("\u0000") ? text.replaceAll("\u0000", "\uFFFD") : text)

const nullableText = (text: string | null): string | null => (text === null ? null : replaceNul(text))

// Token counts and durations go into integer columns, so fractional values are rounded. Negative,
// non-finite and unsafe-integer values are stored as unknown (NULL).
const nullableCount = (value: number | null): number | null =>
  value !== null && Number.isFinite(value) && value >= 0 && value <= Number.MAX_SAFE_INTEGER ? Math.round(value) : null

const nullableAmount = (value: number | null): number | null =>
  value !== null && Number.isFinite(value) ? value : null

// JSON.stringify writes NUL as the escape `\u0000`, which PostgreSQL jsonb also rejects, so keys
// and values are cleaned before encoding when the escape shows up.
const encodeMetadata = (metadata: Readonly<Record<string, string>> | null): string | null => {
  if (metadata === null) {
    return null
  }
  const json = JSON.stringify(metadata)
  if (!json.includes("\\u0000")) {
    return json
  }
  const cleaned: Record<string, string> = {}
  for (const [key, value] of Object.entries(metadata)) {
    cleaned[replaceNul(key)] = replaceNul(String(value))
  }
  return JSON.stringify(cleaned)
}

/**
 * Returns why the database would reject the record, or `undefined` when it is valid. The store
 * skips invalid records, because retrying them would keep failing their whole batch.
 */
export const invalidUsageRecordReason = (record: UsageRecord): string | undefined => {
  if (typeof record.requestId !== "string" || record.requestId.length === 0) {
    return "requestId is empty"
  }
  if (!(record.createdAt instanceof Date) || Number.isNaN(record.createdAt.getTime())) {
    return "createdAt is not a valid Date"
  }
  if (typeof record.requestedModel !== "string") {
    return "requestedModel is missing"
  }
  if (typeof record.endpoint !== "string" || typeof record.status !== "string") {
    return "endpoint or status is missing"
  }
  if (!Number.isInteger(record.httpStatus) || record.httpStatus < 0 || record.httpStatus > 999) {
    return `httpStatus ${record.httpStatus} is not an HTTP status code`
  }
  if (!Number.isFinite(record.totalMs) || record.totalMs < 0) {
    return `totalMs ${record.totalMs} is not a non-negative number`
  }
  return undefined
}

/** Encodes a valid record (see `invalidUsageRecordReason`) as the column values of one row. */
export const encodeUsageRow = (dialect: UsageDialect, record: UsageRecord): UsageRow => {
  // SQLite has no boolean type, and better-sqlite3 binds only numbers, strings, bigints and buffers.
  const flag = (value: boolean): boolean | number => {
    if (dialect === "pg") {
      return value
    }
    return value ? 1 : 0
  }

  return {
    request_id: replaceNul(record.requestId),
    created_at: dialect === "pg" ? record.createdAt : record.createdAt.getTime(),
    key_id: nullableText(record.keyId),
    team: nullableText(record.team),
    requested_model: replaceNul(record.requestedModel),
    resolved_model: nullableText(record.resolvedModel),
    provider: nullableText(record.provider),
    endpoint: replaceNul(record.endpoint),
    status: replaceNul(record.status),
    http_status: record.httpStatus,
    stream: flag(record.stream === true),
    prompt_tokens: nullableCount(record.promptTokens),
    completion_tokens: nullableCount(record.completionTokens),
    cached_input_tokens: nullableCount(record.cachedInputTokens),
    cache_write_tokens: nullableCount(record.cacheWriteTokens),
    cache_write_1h_tokens: nullableCount(record.cacheWrite1hTokens),
    reasoning_tokens: nullableCount(record.reasoningTokens),
    usage_estimated: flag(record.usageEstimated === true),
    cost_usd: nullableAmount(record.costUsd),
    price_version: nullableText(record.priceVersion),
    cache_status: nullableText(record.cacheStatus),
    cost_saved_usd: nullableAmount(record.costSavedUsd),
    cache_similarity: nullableAmount(record.cacheSimilarity ?? null),
    first_byte_ms: nullableCount(record.firstByteMs),
    total_ms: Math.round(record.totalMs),
    error_type: nullableText(record.errorType),
    metadata: encodeMetadata(record.metadata)
  }
}

// Decoding accepts what either driver returns: PostgreSQL `bigint` and `numeric` arrive as
// strings, `timestamptz` as a Date and `jsonb` as a parsed object. SQLite returns numbers for
// integers, booleans and timestamps, and text for JSON.

const decodeNumber = (value: unknown): number => (typeof value === "number" ? value : Number(value))

const decodeNullableNumber = (value: unknown): number | null =>
  value === null || value === undefined ? null : decodeNumber(value)

const decodeNullableText = (value: unknown): string | null =>
  value === null || value === undefined ? null : String(value)

const decodeBoolean = (value: unknown): boolean => value === true || value === 1 || value === "1" || value === "t"

const decodeDate = (value: unknown): Date => (value instanceof Date ? value : new Date(decodeNumber(value)))

const decodeMetadata = (value: unknown): Readonly<Record<string, string>> | null => {
  if (value === null || value === undefined) {
    return null
  }
  return (typeof value === "string" ? JSON.parse(value) : value) as Record<string, string>
}

/** Decodes one `SELECT *` row of `fluxen_usage` from either dialect. */
export const decodeUsageRow = (row: Readonly<Record<string, unknown>>): UsageRecord => ({
  requestId: String(row.request_id),
  createdAt: decodeDate(row.created_at),
  keyId: decodeNullableText(row.key_id),
  team: decodeNullableText(row.team),
  requestedModel: String(row.requested_model),
  resolvedModel: decodeNullableText(row.resolved_model),
  provider: decodeNullableText(row.provider),
  endpoint: String(row.endpoint) as UsageEndpoint,
  status: String(row.status) as UsageStatus,
  httpStatus: decodeNumber(row.http_status),
  stream: decodeBoolean(row.stream),
  promptTokens: decodeNullableNumber(row.prompt_tokens),
  completionTokens: decodeNullableNumber(row.completion_tokens),
  cachedInputTokens: decodeNullableNumber(row.cached_input_tokens),
  cacheWriteTokens: decodeNullableNumber(row.cache_write_tokens),
  cacheWrite1hTokens: decodeNullableNumber(row.cache_write_1h_tokens),
  reasoningTokens: decodeNullableNumber(row.reasoning_tokens),
  usageEstimated: decodeBoolean(row.usage_estimated),
  costUsd: decodeNullableNumber(row.cost_usd),
  priceVersion: decodeNullableText(row.price_version),
  cacheStatus: decodeNullableText(row.cache_status) as UsageCacheStatus | null,
  costSavedUsd: decodeNullableNumber(row.cost_saved_usd),
  cacheSimilarity: decodeNullableNumber(row.cache_similarity),
  firstByteMs: decodeNullableNumber(row.first_byte_ms),
  totalMs: decodeNumber(row.total_ms),
  errorType: decodeNullableText(row.error_type),
  metadata: decodeMetadata(row.metadata)
})
