import { describe, expect, it } from "vitest"
import { sharedGetter } from "./SharedGetter.js"

const valueKey: unique symbol = Symbol("value")

class Boxed {
  declare readonly doubled: number
  readonly [valueKey]: number

  constructor(value: number) {
    this[valueKey] = value
    Object.defineProperty(this, "doubled", Boxed.doubledProperty)
  }

  private static readonly doubledProperty = sharedGetter(function (this: Boxed): number {
    return this[valueKey] * 2
  })
}

describe("sharedGetter", () => {
  it("one getter for all instances", () => {
    const getterOf = (boxed: Boxed) => Object.getOwnPropertyDescriptor(boxed, "doubled")?.get

    expect(getterOf(new Boxed(1))).toBeTypeOf("function")
    expect(getterOf(new Boxed(1))).toBe(getterOf(new Boxed(2)))
  })

  it("enumerable and configurable", () => {
    const descriptor = Object.getOwnPropertyDescriptor(new Boxed(1), "doubled")

    expect(descriptor?.enumerable).toBe(true)
    expect(descriptor?.configurable).toBe(true)
  })

  it("spread copy keeps the value", () => {
    expect({ ...new Boxed(21) }.doubled).toBe(42)
  })

  it("reads through a derived object", () => {
    expect((Object.create(new Boxed(4)) as Boxed).doubled).toBe(8)
  })
})
