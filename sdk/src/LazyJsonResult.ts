/**
 * A `JsonResult` whose `body` is parsed from its bytes on the first read.
 * Most requests only relay the bytes, so most bodies are never parsed.
 *
 * `body` is a getter that all instances share (see `sharedGetter`), so a
 * plugin's `{ ...result, headers }` copy still has the body.
 */
import type { JsonResult } from "./Provider.js"
import { sharedGetter } from "./SharedGetter.js"
import type { Usage } from "./Usage.js"

const unparsed: unique symbol = Symbol("unparsed")
const bodyKey: unique symbol = Symbol("body")
const parseKey: unique symbol = Symbol("parse")

export class LazyJsonResult implements JsonResult {
  readonly _tag = "Json"
  declare readonly body: unknown
  [bodyKey]: unknown = unparsed
  readonly [parseKey]: (bytes: Uint8Array) => unknown

  constructor(
    readonly status: number,
    readonly headers: Readonly<Record<string, string>>,
    readonly bytes: Uint8Array,
    readonly usage: Usage | undefined,
    /** Parses `bytes`, or throws the error that a read of `body` throws. */
    parse: (bytes: Uint8Array) => unknown
  ) {
    this[parseKey] = parse
    Object.defineProperty(this, "body", LazyJsonResult.bodyProperty)
  }

  private static readonly bodyProperty = sharedGetter(function (this: LazyJsonResult): unknown {
    if (this[bodyKey] !== unparsed) return this[bodyKey]
    const body = this[parseKey](this.bytes)
    // A frozen result cannot keep the body, so it parses again on the next read.
    if (!Object.isFrozen(this)) this[bodyKey] = body
    return body
  })
}

/**
 * Returns a result's body without parsing anything: the value of a plain
 * `body` field, or the body of a `LazyJsonResult` that something already
 * read. Returns undefined for a lazy body not parsed yet, and for a `body`
 * accessor of another class, whose read might parse.
 */
export const bodyIfParsed = (result: JsonResult): unknown => {
  if (result instanceof LazyJsonResult) {
    const body = result[bodyKey]
    return body === unparsed ? undefined : body
  }
  const descriptor = Object.getOwnPropertyDescriptor(result, "body")
  return descriptor !== undefined && "value" in descriptor ? descriptor.value : undefined
}
