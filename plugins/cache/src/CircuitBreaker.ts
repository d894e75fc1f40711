/**
 * A circuit breaker for the commands of one store connection. After
 * `failureThreshold` consecutive failures it opens: commands are skipped at
 * once for `initialOpenMs`. Then one command goes through as a probe. A
 * probe that succeeds closes the breaker, and one that fails opens it again
 * for twice as long, up to `maxOpenMs`. Commands other than the probe are
 * skipped until the probe completes.
 */

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the breaker. */
  readonly failureThreshold: number
  /** Time the breaker first stays open, in milliseconds. */
  readonly initialOpenMs: number
  /** Upper bound of the time the breaker stays open, in milliseconds. */
  readonly maxOpenMs: number
}

export type CircuitState = "closed" | "open" | "half-open"

/** The breaker's decision for one command: run it, run it as the probe of a half-open breaker, or skip it. */
export type CircuitPermit = "normal" | "probe" | "skip"

/** A change of state that the caller logs: `opened` from closed, `closed` after a successful probe. */
export type CircuitTransition = "opened" | "closed" | undefined

export class CircuitBreaker {
  private current: CircuitState = "closed"
  private consecutiveFailures = 0
  private openMs: number
  private openUntil = 0

  constructor(private readonly options: CircuitBreakerOptions) {
    this.openMs = options.initialOpenMs
  }

  get state(): CircuitState {
    return this.current
  }

  /** The time the breaker stays open after the latest failure, in milliseconds. */
  get currentOpenMs(): number {
    return this.openMs
  }

  /** Decides whether a command may run at time `nowMs`. Granting a `probe` permit half-opens the breaker. */
  acquire(nowMs: number): CircuitPermit {
    if (this.current === "closed") return "normal"
    if (this.current === "half-open" || nowMs < this.openUntil) return "skip"
    this.current = "half-open"
    return "probe"
  }

  /** Records a command that completed. */
  succeeded(permit: CircuitPermit): CircuitTransition {
    if (permit === "probe") {
      this.current = "closed"
      this.consecutiveFailures = 0
      this.openMs = this.options.initialOpenMs
      return "closed"
    }
    // A command sent before the breaker opened may complete while it is open, but only a probe closes it.
    if (this.current === "closed") this.consecutiveFailures = 0
    return undefined
  }

  /** Records a command that failed or timed out at time `nowMs`. */
  failed(permit: CircuitPermit, nowMs: number): CircuitTransition {
    if (permit === "probe") {
      this.openMs = Math.min(this.openMs * 2, this.options.maxOpenMs)
      this.open(nowMs)
      return undefined
    }
    if (this.current !== "closed") return undefined
    this.consecutiveFailures++
    if (this.consecutiveFailures < this.options.failureThreshold) return undefined
    this.open(nowMs)
    return "opened"
  }

  private open(nowMs: number): void {
    this.current = "open"
    this.openUntil = nowMs + this.openMs
  }
}
