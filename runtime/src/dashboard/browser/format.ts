/** Number formats of the dashboard, in US English. */

const countFormat = new Intl.NumberFormat("en-US")
const compactFormat = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 })
const usdFormat = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })

/** Placeholder for a value that does not exist, such as a rate over zero requests. */
export const noValue = "–"

/** Formats a whole number with thousands separators: `12,345`. */
export const formatCount = (value: number): string => countFormat.format(value)

/** Formats a large number briefly: `1.2M`, `34.5K`. */
export const formatCompact = (value: number): string => compactFormat.format(value)

/**
 * Formats US dollars with two decimals (`$1,234.50`), or for amounts under
 * one cent with three significant digits (`$0.000123`), so that small test
 * and cache amounts do not read as zero.
 */
export const formatUsd = (value: number): string => {
  const sign = value < 0 ? "-" : ""
  const magnitude = Math.abs(value)
  if (magnitude === 0 || magnitude >= 0.01) return `${sign}$${usdFormat.format(magnitude)}`
  const decimals = Math.min(10, 2 - Math.floor(Math.log10(magnitude)))
  return `${sign}$${magnitude.toFixed(decimals)}`
}

/** Formats a fraction as a percentage with one decimal, or the placeholder when the fraction is undefined (0 of 0). */
export const formatPercent = (fraction: number | null): string => (fraction === null ? noValue : `${(fraction * 100).toFixed(1)}%`)

/** Formats milliseconds: `850 ms` below one second, `1.25 s` from one second on. */
export const formatMs = (milliseconds: number): string =>
  milliseconds < 1000 ? `${Math.round(milliseconds)} ms` : `${(milliseconds / 1000).toFixed(2)} s`

/** Divides, returning null when the denominator is 0. */
export const ratio = (numerator: number, denominator: number): number | null => (denominator === 0 ? null : numerator / denominator)
