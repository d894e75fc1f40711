/**
 * Handling of the stop signals after the first. The first SIGINT or SIGTERM starts the graceful
 * shutdown (the Effect runtime's `runMain` interrupts the main fiber). Ctrl+C in a terminal
 * sends SIGINT to the whole foreground process group, and `npm start` also passes its own
 * SIGINT on to Fluxen, so one keypress arrives twice within milliseconds. A repeat within
 * `duplicateWindowMs` of the first signal is therefore ignored. A later one exits at once and
 * logs what the exit gives up.
 */

/** Exit statuses of a process stopped by a signal: 128 plus the signal's number. */
const exitStatusOf = { SIGINT: 130, SIGTERM: 143 } as const

type StopSignal = keyof typeof exitStatusOf

/** Repeats closer than this to the first signal count as the same stop request, in milliseconds. */
export const duplicateWindowMs = 1_000

/** Installs the listeners. `report` writes the line logged before a forced exit. */
export const handleRepeatedStopSignals = (report: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): void => {
  let firstAt: number | undefined
  const onSignal = (signal: StopSignal) => {
    const now = Date.now()
    if (firstAt === undefined) {
      firstAt = now
      return
    }
    if (now - firstAt < duplicateWindowMs) return
    report(`Received ${signal} again during shutdown, so Fluxen exits now without waiting for in-flight requests or writing buffered usage records.`)
    process.exit(exitStatusOf[signal])
  }
  process.on("SIGINT", () => onSignal("SIGINT"))
  process.on("SIGTERM", () => onSignal("SIGTERM"))
}
