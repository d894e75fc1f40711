/**
 * A `JsonResult` whose `body` is parsed from its bytes on the first read.
 * Most requests only relay the bytes, so most bodies are never parsed.
 *
 * `body` is an own, enumerable accessor whose getter all instances share, so
 * a plugin's `{ ...result, headers }` copy still has the body. A getter made
 * per result would keep the bytes and the request's objects alive until a
 * full collection (see `CallUpstreamRequest`).
 */
import type { JsonResult } from "./Provider.js"
import type { Usage } from "./Usage.js"

const unparsed: unique symbol = Symbol("unparsed")

export class LazyJsonResult implements JsonResult {
  readonly _tag = "Json"
  declare readonly body: unknown
  #body: unknown = unparsed
  readonly #parse: (bytes: Uint8Array) => unknown

  constructor(
    readonly status: number,
    readonly headers: Readonly<Record<string, string>>,
    readonly bytes: Uint8Array,
    readonly usage: Usage | undefined,
    /** Parses `bytes`, or throws the error that a read of `body` throws. */
    parse: (bytes: Uint8Array) => unknown
  ) {
    this.#parse = parse
    Object.defineProperty(this, "body", LazyJsonResult.bodyProperty)
  }

  private static readonly bodyProperty: PropertyDescriptor = {
    enumerable: true,
    get(this: LazyJsonResult): unknown {
      if (this.#body === unparsed) this.#body = this.#parse(this.bytes)
      return this.#body
    }
  }
}
