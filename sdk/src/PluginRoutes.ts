/**
 * HTTP routes a plugin adds to the gateway (an admin API, a report). The
 * host mounts them beside its own control routes, parses JSON bodies, and
 * maps a failed handler to the OpenAI error shape like any other error.
 */
import type { Effect } from "effect"
import type { GatewayError } from "./Errors.js"
import type { RequestHeaders } from "./Provider.js"

export type PluginRouteMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE"

export interface PluginHttpRequest {
  readonly method: PluginRouteMethod
  /** The path without the query string. */
  readonly path: string
  readonly headers: RequestHeaders
  readonly query: URLSearchParams
  /** Values of the `:name` segments of the route's path. */
  readonly params: Readonly<Record<string, string>>
  /** The parsed JSON body, or undefined when the request had none. */
  readonly body: unknown
}

export interface PluginHttpResponse {
  readonly status: number
  /** Sent as JSON unless `contentType` says otherwise, in which case it must be a string. */
  readonly body: unknown
  readonly contentType?: string
  readonly headers?: Readonly<Record<string, string>>
}

export interface PluginRoute {
  readonly method: PluginRouteMethod
  /** An absolute path; `:name` segments match one path segment, e.g. `/v1/fluxen/admin/keys/:id`. */
  readonly path: string
  readonly handle: (request: PluginHttpRequest) => Effect.Effect<PluginHttpResponse, GatewayError>
}
