/**
 * Sends one batch of spans to the collector as an OTLP/HTTP JSON request,
 * through the host's `HttpTransport` (an undici pool on Node, `fetch` on
 * Deno). A send never fails. Its result describes the outcome, and the export
 * loop logs it.
 */
import type { HttpTransportService } from "@fluxen/sdk"
import { Effect, Redacted } from "effect"
import { encodeExportRequest } from "./OtlpJson.js"
import type { FinishedSpan } from "./RequestSpan.js"

export type SendResult =
  | { readonly _tag: "Sent"; readonly rejectedSpans: number; readonly rejectionMessage: string }
  | { readonly _tag: "Failed"; readonly reason: string; readonly httpStatus: number | undefined }

export interface OtlpSenderOptions {
  readonly transport: HttpTransportService
  readonly endpoint: string
  /** Sent with every request. The values are secrets. */
  readonly headers: Readonly<Record<string, Redacted.Redacted<string>>>
  readonly serviceName: string
  /** Maximum time for one request, including reading the response. */
  readonly timeoutMs: number
  /** The plugin instance name, which the transport names in its errors. */
  readonly pluginName: string
}

const MAX_REJECTION_MESSAGE_CHARS = 200

/** Reads the `partialSuccess` of a 2xx response body, whose absence means every span was accepted. */
const partialSuccessOf = (body: Uint8Array): { rejectedSpans: number; errorMessage: string } => {
  if (body.length === 0) return { rejectedSpans: 0, errorMessage: "" }
  try {
    const parsed = JSON.parse(new TextDecoder().decode(body)) as { partialSuccess?: { rejectedSpans?: unknown; errorMessage?: unknown } }
    const partial = parsed.partialSuccess
    return {
      rejectedSpans: Number(partial?.rejectedSpans ?? 0) || 0,
      errorMessage: typeof partial?.errorMessage === "string" ? partial.errorMessage.slice(0, MAX_REJECTION_MESSAGE_CHARS) : ""
    }
  } catch {
    // A collector that responds with 2xx and a body that is not JSON still accepted the spans.
    return { rejectedSpans: 0, errorMessage: "" }
  }
}

/** Describes a transport failure without the request's headers or body. */
const describeFailure = (error: unknown): string => {
  if (typeof error === "object" && error !== null && "_tag" in error) {
    const tagged = error as { _tag: string; reason?: unknown; timeoutMs?: unknown }
    if (tagged._tag === "UpstreamUnreachableError" && typeof tagged.reason === "string") return tagged.reason
    if (tagged._tag === "UpstreamTimeoutError") return `the collector sent nothing for ${String(tagged.timeoutMs)} ms`
    return tagged._tag
  }
  return String(error)
}

/** Creates the function that sends one batch. */
export const makeOtlpSender = (options: OtlpSenderOptions) => {
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(options.headers)) headers[name.toLowerCase()] = Redacted.value(value)
  headers["content-type"] = "application/json"

  const post = (body: string, signal: AbortSignal): Promise<SendResult> =>
    options.transport
      .send({ provider: options.pluginName, method: "POST", url: options.endpoint, headers, body, signal, idleTimeoutMs: options.timeoutMs })
      .then(async (response) => {
        const bytes = await response.bytes()
        if (response.status < 200 || response.status >= 300) {
          return { _tag: "Failed", reason: `the collector returned HTTP ${response.status}`, httpStatus: response.status }
        }
        const partial = partialSuccessOf(bytes)
        return { _tag: "Sent", rejectedSpans: partial.rejectedSpans, rejectionMessage: partial.errorMessage }
      })

  return (spans: ReadonlyArray<FinishedSpan>): Effect.Effect<SendResult> =>
    Effect.tryPromise({
      try: (signal) => post(encodeExportRequest(spans, options.serviceName), signal),
      catch: describeFailure
    }).pipe(
      Effect.timeoutFail({ duration: options.timeoutMs, onTimeout: () => `no response within ${options.timeoutMs} ms` }),
      Effect.catchAll((reason) => Effect.succeed<SendResult>({ _tag: "Failed", reason, httpStatus: undefined }))
    )
}
