import { describe, expect, it } from "vitest"
import { toGeminiSchema } from "./toGeminiSchema.js"

const cases: ReadonlyArray<readonly [string, unknown, unknown]> = [
  ["type upper-cased", { type: "integer" }, { type: "INTEGER" }],
  [
    "unsupported keys dropped",
    {
      $schema: "https://json-schema.org/draft/2020-12/schema",
      $id: "x",
      $comment: "c",
      type: "object",
      additionalProperties: false,
      properties: { n: { type: "number", exclusiveMinimum: 0, multipleOf: 2, minimum: 1, maximum: 9 } },
      patternProperties: { "^x": { type: "string" } },
      examples: [{}]
    },
    { type: "OBJECT", properties: { n: { type: "NUMBER", minimum: 1, maximum: 9 } } }
  ],
  [
    "kept keys",
    {
      type: "array",
      title: "T",
      description: "D",
      items: { type: "string", minLength: 1, maxLength: 5, pattern: "^a", default: "a", example: "ab" },
      minItems: 1,
      maxItems: 3
    },
    {
      type: "ARRAY",
      title: "T",
      description: "D",
      items: { type: "STRING", minLength: 1, maxLength: 5, pattern: "^a", default: "a", example: "ab" },
      minItems: 1,
      maxItems: 3
    }
  ],
  ["property named like a keyword kept", { type: "object", properties: { $schema: { type: "string" }, additionalProperties: { type: "boolean" } } }, { type: "OBJECT", properties: { $schema: { type: "STRING" }, additionalProperties: { type: "BOOLEAN" } } }],
  ["nullable type array", { type: ["string", "null"] }, { type: "STRING", nullable: true }],
  ["several types", { type: ["string", "integer"] }, { anyOf: [{ type: "STRING" }, { type: "INTEGER" }] }],
  ["anyOf with null", { anyOf: [{ type: "string" }, { type: "null" }] }, { type: "STRING", nullable: true }],
  ["anyOf kept", { anyOf: [{ type: "string" }, { type: "number" }] }, { anyOf: [{ type: "STRING" }, { type: "NUMBER" }] }],
  ["oneOf becomes anyOf", { oneOf: [{ type: "string" }, { type: "boolean" }] }, { anyOf: [{ type: "STRING" }, { type: "BOOLEAN" }] }],
  ["allOf of one merged", { description: "d", allOf: [{ type: "string" }] }, { description: "d", type: "STRING" }],
  ["allOf of several dropped", { allOf: [{ type: "string" }, { minLength: 1 }] }, {}],
  ["const string", { type: "string", const: "fixed" }, { type: "STRING", enum: ["fixed"] }],
  ["string enum kept", { type: "string", enum: ["a", "b"] }, { type: "STRING", enum: ["a", "b"] }],
  ["numeric enum dropped", { type: "integer", enum: [1, 2] }, { type: "INTEGER" }],
  ["allowed format kept", { type: "string", format: "date-time" }, { type: "STRING", format: "date-time" }],
  ["other format dropped", { type: "string", format: "email" }, { type: "STRING" }],
  ["tuple items dropped", { type: "array", items: [{ type: "string" }] }, { type: "ARRAY" }],
  [
    "required limited to declared properties",
    { type: "object", properties: { a: { type: "string" } }, required: ["a", "b"] },
    { type: "OBJECT", properties: { a: { type: "STRING" } }, required: ["a"] }
  ],
  [
    "$defs reference inlined",
    {
      type: "object",
      properties: { home: { $ref: "#/$defs/Address", description: "Home" }, work: { $ref: "#/definitions/Address" } },
      $defs: { Address: { type: "object", properties: { city: { type: "string" } } } },
      definitions: { Address: { type: "object", properties: { street: { type: "string" } } } }
    },
    {
      type: "OBJECT",
      properties: {
        home: { type: "OBJECT", properties: { city: { type: "STRING" } }, description: "Home" },
        work: { type: "OBJECT", properties: { street: { type: "STRING" } } }
      }
    }
  ],
  ["same reference twice", { type: "array", items: { anyOf: [{ $ref: "#/$defs/A" }, { $ref: "#/$defs/A" }] }, $defs: { A: { type: "string" } } }, { type: "ARRAY", items: { anyOf: [{ type: "STRING" }, { type: "STRING" }] } }],
  ["not an object", "string", {}]
]

describe("toGeminiSchema", () => {
  for (const [name, input, expected] of cases) {
    it(name, () => {
      expect(toGeminiSchema(input, "tools[0].function.parameters")).toEqual(expected)
    })
  }

  it("recursive reference rejected", () => {
    const schema = { $ref: "#/$defs/Node", $defs: { Node: { type: "object", properties: { next: { $ref: "#/$defs/Node" } } } } }
    expect(() => toGeminiSchema(schema, "response_format.json_schema.schema")).toThrow(
      expect.objectContaining({ _tag: "InvalidRequestError", param: "response_format.json_schema.schema" })
    )
  })

  it("unresolvable reference rejected", () => {
    expect(() => toGeminiSchema({ $ref: "https://example.com/schema.json" }, "p")).toThrow(/cannot be resolved/)
  })
})
