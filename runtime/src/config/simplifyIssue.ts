/**
 * Preparing a schema decoding failure for a configuration report: one issue
 * per real problem, and the values of secret fields found so that the report
 * can hide them.
 */
import { Option, ParseResult, SchemaAST as AST } from "effect"

type ParseIssue = ParseResult.ParseIssue

/**
 * Field names whose values are hidden even when the schema does not mark them `Redacted`.
 * A name ending in "Tokens" is a count (`maxTokens`) unless it is `tokens` itself.
 */
export const secretName = /(key|secret|password|passwd|credential)s?$|token$|^tokens$/i

const isRedacted = (ast: AST.Transformation): boolean => {
  const constructor = AST.getTypeConstructorAnnotation(ast.to)
  return Option.isSome(constructor) && (constructor.value as { readonly _tag?: unknown })._tag === "effect/Redacted"
}

/**
 * Drops the union member that an optional field adds for an absent value:
 * its "Expected undefined, actual …" issue only repeats the real problem.
 * Members that are all plain type mismatches (`"memory"`, `"redis"`) become
 * one issue, so a bad literal is reported once.
 */
export const simplifyIssue = (issue: ParseIssue): ParseIssue => {
  switch (issue._tag) {
    case "Pointer":
      return new ParseResult.Pointer(issue.path, issue.actual, simplifyIssue(issue.issue))
    case "Refinement":
      return new ParseResult.Refinement(issue.ast, issue.actual, issue.kind, simplifyIssue(issue.issue))
    case "Transformation":
      return new ParseResult.Transformation(issue.ast, issue.actual, issue.kind, simplifyIssue(issue.issue))
    case "Composite":
      return simplifyComposite(issue)
    default:
      return issue
  }
}

const isAbsentMember = (issue: ParseIssue): boolean => issue._tag === "Type" && issue.ast._tag === "UndefinedKeyword"

const simplifyComposite = (issue: ParseResult.Composite): ParseIssue => {
  const members = (Array.isArray(issue.issues) ? issue.issues : [issue.issues]) as ReadonlyArray<ParseIssue>
  const remaining = members.map(simplifyIssue).filter((member) => issue.ast._tag !== "Union" || !isAbsentMember(member))
  const [first, ...rest] = remaining
  if (first === undefined) return issue
  if (issue.ast._tag !== "Union") return new ParseResult.Composite(issue.ast, issue.actual, [first, ...rest], issue.output)
  if (rest.length === 0) return first

  const plainMismatches = remaining.every((member) => member._tag === "Type" && member.message === undefined)
  if (plainMismatches) {
    return new ParseResult.Type(AST.Union.make(remaining.map((member) => (member as ParseResult.Type).ast)), issue.actual)
  }
  return new ParseResult.Composite(issue.ast, issue.actual, [first, ...rest], issue.output)
}

/**
 * Collects the input values of fields that can hold a secret: fields whose
 * schema is `Redacted`, and fields named like a key, token or password,
 * with everything nested in them.
 */
export const secretValues = (issue: ParseIssue, secret = false, found: Array<unknown> = []): Array<unknown> => {
  // A blank field reads as null, which hides nothing and would turn every "null" in the message into a description.
  if (secret && issue.actual !== undefined && issue.actual !== null) found.push(issue.actual)
  switch (issue._tag) {
    case "Pointer": {
      const path = Array.isArray(issue.path) ? issue.path : [issue.path]
      const key = path[path.length - 1]
      return secretValues(issue.issue, secret || (typeof key === "string" && secretName.test(key)), found)
    }
    case "Refinement":
      return secretValues(issue.issue, secret, found)
    case "Transformation":
      return secretValues(issue.issue, secret || isRedacted(issue.ast), found)
    case "Composite": {
      const members = (Array.isArray(issue.issues) ? issue.issues : [issue.issues]) as ReadonlyArray<ParseIssue>
      for (const member of members) secretValues(member, secret, found)
      return found
    }
    default:
      return found
  }
}
