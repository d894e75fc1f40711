/**
 * Writing the Prometheus text exposition format, version 0.0.4: `# HELP`
 * and `# TYPE` lines, then one `name{label="value"} number` line per sample.
 * Format reference: https://prometheus.io/docs/instrumenting/exposition_formats/
 */

/** The `content-type` of a scrape response in this format. */
export const prometheusContentType = "text/plain; version=0.0.4; charset=utf-8"

export type MetricType = "counter" | "gauge" | "histogram"

/** Escapes a label value: backslash, double quote and line feed are the three characters the format escapes. */
export const escapeLabelValue = (value: string): string =>
  value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")

/** Escapes `# HELP` text, where only backslash and line feed are escaped. */
const escapeHelp = (text: string): string => text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")

/** Formats a sample value as Go's `strconv.ParseFloat`, which Prometheus uses, reads it. */
export const formatSampleValue = (value: number): string => {
  if (Number.isNaN(value)) return "NaN"
  if (value === Number.POSITIVE_INFINITY) return "+Inf"
  if (value === Number.NEGATIVE_INFINITY) return "-Inf"
  return String(value)
}

/**
 * Renders a label set as `name="value",...` without braces. Label names are
 * fixed in code, so only the values are escaped.
 */
export const renderLabels = (labels: Readonly<Record<string, string>>): string =>
  Object.entries(labels)
    .map(([name, value]) => `${name}="${escapeLabelValue(value)}"`)
    .join(",")

/** Joins pre-rendered label sets, skipping empty ones. */
export const joinLabels = (...parts: ReadonlyArray<string>): string => parts.filter((part) => part !== "").join(",")

/** Collects the lines of one scrape. */
export class ExpositionWriter {
  private readonly lines: Array<string> = []
  private readonly names = new Set<string>()

  /** Starts a metric family. Every sample of the family must follow before the next `family` call. */
  family(name: string, type: MetricType, help: string): this {
    this.names.add(name)
    this.lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`)
    return this
  }

  /** Returns whether a family of this name was started, since a scrape may hold each name once. */
  hasFamily(name: string): boolean {
    return this.names.has(name)
  }

  /** Adds one sample; `labels` is a label set from `renderLabels` or `joinLabels`. */
  sample(name: string, labels: string, value: number): this {
    this.lines.push(labels === "" ? `${name} ${formatSampleValue(value)}` : `${name}{${labels}} ${formatSampleValue(value)}`)
    return this
  }

  /** Returns the scrape body, which ends with a line feed as the format requires. */
  toString(): string {
    return this.lines.length === 0 ? "" : `${this.lines.join("\n")}\n`
  }
}
