/**
 * Base64 `data:` URLs (RFC 2397), the form OpenAI uses for inline images and
 * files, and Anthropic's base64 sources.
 */

export interface Base64Data {
  readonly mediaType: string
  readonly data: string
}

const base64DataUrl = /^data:([^;,]+)((?:;[^;,]*)*);base64,/i

/** Splits a base64 `data:` URL. Returns undefined for any other URL, including a data URL without `;base64`. */
export const parseBase64DataUrl = (url: string): Base64Data | undefined => {
  const match = base64DataUrl.exec(url)
  if (match === null) return undefined
  return { mediaType: match[1]!.toLowerCase(), data: url.slice(match[0].length) }
}

export const formatBase64DataUrl = (value: Base64Data): string => `data:${value.mediaType};base64,${value.data}`

/** Decodes base64 to UTF-8 text with the web platform's `atob`, so it also runs where `Buffer` is missing. */
export const decodeBase64Text = (data: string): string => {
  const binary = atob(data)
  const bytes = new Uint8Array(binary.length)
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i)
  return new TextDecoder().decode(bytes)
}

/** Encodes UTF-8 text as base64. */
export const encodeBase64Text = (text: string): string => {
  let binary = ""
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte)
  return btoa(binary)
}
