/**
 * JSON POSTs through the host's `HttpTransport`, for the alert webhook and
 * the shadow requests, so that they share the gateway's connection pools
 * and timeouts.
 */
import { UpstreamTimeoutError, UpstreamUnreachableError, type HttpTransportService } from "@fluxen/sdk"
import { Effect, Schema } from "effect"

/** A POST that could not be sent or whose response did not arrive. The message never contains the URL, which may carry a token. */
export class PostFailedError extends Schema.TaggedError<PostFailedError>()("PostFailedError", {
  target: Schema.String,
  message: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {}

export interface JsonPost {
  /** Names the receiver in errors and logs, e.g. `webhook`. */
  readonly target: string
  readonly url: string
  readonly headers?: Readonly<Record<string, string>>
  readonly body: unknown
  /** Maximum silence while waiting for the response, in milliseconds. */
  readonly timeoutMs: number
}

export interface JsonPostResponse {
  readonly status: number
  readonly text: string
}

/**
 * Describes why a POST failed. The transport's errors speak of an "upstream provider", which
 * a webhook is not, so their reason is given without that wording.
 */
const describeCause = (cause: unknown): string => {
  if (cause instanceof UpstreamUnreachableError) return `it could not be reached (${cause.reason})`
  if (cause instanceof UpstreamTimeoutError) return `it sent nothing for ${cause.timeoutMs} ms`
  return cause instanceof Error || Schema.is(PostFailedError)(cause) ? cause.message : String(cause)
}

/** Sends the body as JSON and reads the whole response. Interrupting the effect aborts the request. */
export const postJson = (transport: HttpTransportService, post: JsonPost): Effect.Effect<JsonPostResponse, PostFailedError> =>
  Effect.tryPromise({
    try: async (signal) => {
      const response = await transport.send({
        provider: post.target,
        method: "POST",
        url: post.url,
        headers: { "content-type": "application/json", ...post.headers },
        body: JSON.stringify(post.body),
        signal,
        idleTimeoutMs: post.timeoutMs
      })
      const bytes = await response.bytes()
      return { status: response.status, text: new TextDecoder().decode(bytes) }
    },
    catch: (cause) => new PostFailedError({ target: post.target, message: `The POST to the ${post.target} failed: ${describeCause(cause)}`, cause })
  })
