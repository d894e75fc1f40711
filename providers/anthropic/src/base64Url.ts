/** Text carried inside ids as the unpadded base64url of its UTF-8 bytes: letters, digits, `_` and `-`. */
import { decodeBase64Text, encodeBase64Text } from "./dataUrl.js"

export const toBase64Url = (text: string): string =>
  encodeBase64Text(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "")

/** Decodes `encoded`, or returns undefined unless encoding the result gives `encoded` back. */
export const fromBase64Url = (encoded: string): string | undefined => {
  let text: string
  try {
    // atob accepts base64 without its padding.
    text = decodeBase64Text(encoded.replace(/-/g, "+").replace(/_/g, "/"))
  } catch {
    return undefined
  }
  // atob skips whitespace and TextDecoder replaces invalid UTF-8, so only an exact round trip counts.
  return toBase64Url(text) === encoded ? text : undefined
}
