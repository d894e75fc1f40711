/**
 * The message the main thread sends to a token-count worker. Both sides
 * import it, so the request and its result are encoded with one schema.
 */
import { Schema } from "effect"

export class CountTokens extends Schema.TaggedRequest<CountTokens>()("CountTokens", {
  failure: Schema.Never,
  success: Schema.Number,
  payload: {
    encoding: Schema.Literal("o200k_base", "cl100k_base"),
    texts: Schema.Array(Schema.String)
  }
}) {}
