/**
 * Building the page's elements. Text is always set through `textContent`,
 * because model names, key ids and plugin responses come from outside and
 * must never be parsed as markup.
 */

export interface ElementOptions {
  readonly className?: string
  readonly text?: string
  /** The tooltip, e.g. the full text of a truncated cell. */
  readonly title?: string
}

/** Creates an element with optional class, text, tooltip and children. */
export const element = <K extends keyof HTMLElementTagNameMap>(
  tag: K,
  options: ElementOptions = {},
  children: ReadonlyArray<Node> = []
): HTMLElementTagNameMap[K] => {
  const created = document.createElement(tag)
  if (options.className !== undefined) created.className = options.className
  if (options.text !== undefined) created.textContent = options.text
  if (options.title !== undefined) created.title = options.title
  for (const child of children) created.append(child)
  return created
}

/** Returns the element with the id, throwing when the page lacks it (a mismatch between the HTML and the script). */
export const byId = (id: string): HTMLElement => {
  const found = document.getElementById(id)
  if (found === null) throw new Error(`The dashboard page has no element with id '${id}'.`)
  return found
}

/** Sets the text of the element with the id. */
export const setText = (id: string, text: string): void => {
  byId(id).textContent = text
}

/** Replaces the children of the element with the id by one muted paragraph. */
export const showMessage = (id: string, text: string): void => {
  byId(id).replaceChildren(element("p", { className: "muted", text }))
}
