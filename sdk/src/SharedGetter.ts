/**
 * Lazy fields for objects made on every request: an own, enumerable accessor
 * whose getter all instances share, so a `{ ...copy }` still has the value.
 *
 * Do not write such a field as an object literal's `get x() {}` or as a
 * getter made per object. In Fluxen's benchmark each of those kept the
 * request's objects alive through young-generation collections until a
 * full one, which made those collections three times slower. That fits V8
 * keeping accessor pairs in its old generation (measured, not read in V8's
 * source).
 *
 * Keep the state that the getter reads under a symbol, not in a private
 * field: a private field fails when the getter runs on an object made with
 * `Object.create` or behind a Proxy.
 */
export const sharedGetter = <T, V>(get: (this: T) => V): PropertyDescriptor => ({ enumerable: true, configurable: true, get })
