/**
 * Joins the messages along an error's `cause` chain into one line, with each of `secrets`
 * replaced by `***`. Node reports a refused connection to a host with several addresses as an
 * AggregateError whose own message is empty, so its errors' messages stand in for it.
 */
export const describeCause = (cause: unknown, secrets: ReadonlyArray<string>): string => {
  const messages: Array<string> = []
  let current: unknown = cause
  for (let depth = 0; depth < 6 && current !== undefined && current !== null; depth++) {
    let message = current instanceof Error ? current.message : String(current)
    if (message === "" && current instanceof AggregateError) {
      message = current.errors.map((error) => (error instanceof Error ? error.message : String(error))).join("; ")
    }
    if (message !== "" && !messages.includes(message)) {
      messages.push(message)
    }
    current = current instanceof Error ? current.cause : undefined
  }

  let text = messages.length === 0 ? "unknown error" : messages.join(": ")
  for (const secret of secrets) {
    text = text.replaceAll(secret, "***")
  }
  return text
}
