/** Putting a route behind `admin.key`, with the 401 in OpenAI's error shape. */
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Effect } from "effect"
import type { AdminKeyRejection, makeAdminKeyCheck } from "../dashboard/adminKey.js"

/** The 401 for a request that the admin key check rejected. The message never contains the key sent. */
export const adminKeyRejectionResponse = (message: string): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.unsafeJson(
    { error: { message, type: "invalid_request_error", param: null, code: "invalid_admin_key" } },
    { status: 401, headers: { "www-authenticate": "Bearer", "cache-control": "no-store" } }
  )

/**
 * Makes a wrapper that runs a route's handler only when `check` accepts the
 * request, and otherwise responds with 401 and the message for the rejection.
 */
export const makeAdminKeyGuard =
  (check: ReturnType<typeof makeAdminKeyCheck>, messages: Readonly<Record<AdminKeyRejection, string>>) =>
  <E, R>(handle: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) =>
    Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
      const rejection = check(request)
      return rejection === undefined ? handle : Effect.succeed(adminKeyRejectionResponse(messages[rejection]))
    })
