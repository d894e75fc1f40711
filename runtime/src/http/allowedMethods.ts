/**
 * The methods that a request path accepts, for the `Allow` header of a 405
 * Method Not Allowed. A request that no route matches gets 405 when its path
 * has a route under another method, and 404 only when no method has one.
 */
import type * as HttpRouter from "@effect/platform/HttpRouter"
import * as FindMyWay from "find-my-way-ts"

export interface RouteMethod {
  /** `*` (a route for every method) never leads to a 405, so it is left out. */
  readonly method: string
  readonly path: HttpRouter.PathInput
}

// The order of the `Allow` header.
const methodOrder = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

const byMethodOrder = (left: string, right: string): number => {
  const leftIndex = methodOrder.indexOf(left)
  const rightIndex = methodOrder.indexOf(right)
  return (leftIndex === -1 ? methodOrder.length : leftIndex) - (rightIndex === -1 ? methodOrder.length : rightIndex)
}

/**
 * Builds a function that returns the methods whose routes match a request URL
 * (path and query), or an empty array when no route matches. The routes go into
 * the router library that Effect's HttpRouter uses, with its default options,
 * which Fluxen does not change, so a path matches here exactly when it matches
 * there. A path with a GET route also accepts HEAD, because HttpRouter serves
 * HEAD with the GET route. It throws, as HttpRouter does, when a method and
 * path are declared twice.
 */
export const makeAllowedMethods = (routes: Iterable<RouteMethod>): ((url: string) => ReadonlyArray<string>) => {
  const table = FindMyWay.make<true>()
  const methods = new Set<string>()
  for (const { method, path } of routes) {
    if (method === "*") continue
    methods.add(method)
    table.on(method, path, true)
  }

  return (url) => {
    const allowed = [...methods].filter((method) => table.find(method, url) !== undefined)
    if (allowed.includes("GET") && !allowed.includes("HEAD")) allowed.push("HEAD")
    return allowed.sort(byMethodOrder)
  }
}
