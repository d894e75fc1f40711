/**
 * A circuit breaker for the commands that a plugin sends to one server, such
 * as a Redis connection. After `failureThreshold` consecutive failures it
 * opens: commands are skipped at once for `initialOpenMs`. Then one command
 * goes through as a probe. A probe that succeeds closes the breaker, and one
 * that fails opens it again for twice as long, up to `maxOpenMs`. Commands
 * other than the probe are skipped until the probe completes.
 *
 * {@link CircuitBreaker} is the state machine alone, driven with explicit
 * times. {@link makeCircuitGuard} runs Effect commands through one: it skips
 * them while the breaker is open, sends the probe in the background as soon
 * as the open interval ends (with no command needed to trigger it), counts
 * interrupted commands as failed and logs each change of state once.
 */
import { Clock, Context, DefaultServices, Duration, Effect, Exit, FiberSet, Runtime } from "effect"
import type { Scope } from "effect"

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

/** A change of state to log: `opened` from closed, `closed` after a successful probe. */
export type CircuitTransition = "opened" | "closed" | undefined

export class CircuitBreaker {
  private current: CircuitState = "closed"
  private consecutiveFailures = 0
  private openMs: number
  private openUntil = 0

  constructor(readonly options: CircuitBreakerOptions) {
    this.openMs = options.initialOpenMs
  }

  get state(): CircuitState {
    return this.current
  }

  /** The time the breaker stays open after the latest failure, in milliseconds. */
  get currentOpenMs(): number {
    return this.openMs
  }

  /** The time from which an open breaker grants the probe, in milliseconds. It has no meaning unless the state is `open`. */
  get openUntilMs(): number {
    return this.openUntil
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

/**
 * Three consecutive failures skip the server for 500 ms, then for twice as
 * long after each failed probe, up to 5 s. A guard probes at the end of each
 * interval, so the server is back in use within about 5 s (plus the probe's
 * own time) of responding again, whether or not commands arrive meanwhile.
 */
export const DEFAULT_CIRCUIT_BREAKER: CircuitBreakerOptions = { failureThreshold: 3, initialOpenMs: 500, maxOpenMs: 5_000 }

export interface CircuitGuardOptions {
  /** When to skip the server after failures; {@link DEFAULT_CIRCUIT_BREAKER} by default. */
  readonly breaker?: CircuitBreakerOptions
  /**
   * The command that probes the server once the open interval is over, such
   * as a Redis `PING`. It runs in the background, so it needs a timeout of
   * its own (a client's command timeout will do).
   */
  readonly probe: Effect.Effect<unknown, unknown>
  /**
   * The log lines of the changes of state: a warning when the breaker opens
   * and an info line when it closes. Each carries `annotations` and
   * `circuit.state`, and is logged in a fiber of its own, with the log
   * annotations in place where the guard was made rather than those of the
   * request that caused the change.
   */
  readonly log: {
    readonly opened: (breaker: CircuitBreaker) => string
    readonly closed: string
    readonly annotations?: Readonly<Record<string, unknown>>
  }
}

export interface CircuitGuard {
  /** The breaker, for its `state` in metrics and status pages. */
  readonly breaker: CircuitBreaker
  /**
   * Runs `command` and reports its outcome to the breaker, or fails at once
   * with `skipped()` while the breaker is open or half-open. No command
   * waits for the probe.
   */
  readonly run: <A, E, S>(command: Effect.Effect<A, E>, skipped: () => S) => Effect.Effect<A, E | S>
}

const liveClock = Context.get(DefaultServices.liveServices, Clock.Clock)

/**
 * Waits `ms` on `clock`. On the live clock the wait is an unreferenced Node
 * timer, so an open breaker never keeps a Node process running. Any other clock,
 * such as the `TestClock`, sleeps as usual.
 */
const sleepUnreferenced = (clock: Clock.Clock, ms: number): Effect.Effect<void> => {
  if (clock !== liveClock) return clock.sleep(Duration.millis(ms))
  return Effect.async<void>((resume) => {
    const timer = setTimeout(() => resume(Effect.void), ms)
    // Deno's timers are numbers, without `unref`.
    ;(timer as { unref?: () => void }).unref?.()
    return Effect.sync(() => clearTimeout(timer))
  })
}

/**
 * Makes a {@link CircuitGuard} whose probe and log lines run in the current
 * runtime. Each time the breaker opens, the guard starts a timer that sends
 * the probe when the open interval ends, so the breaker closes on a server
 * that is back even when no command arrives. Closing the scope stops the
 * timer and interrupts a probe in flight.
 *
 * NOTE: the guard needs a `Scope` for that timer. Earlier versions of this
 * function needed none, and probed only when a command arrived after the
 * open interval, so a quiet caller kept skipping a server that was back.
 */
export const makeCircuitGuard = (options: CircuitGuardOptions): Effect.Effect<CircuitGuard, never, Scope.Scope> =>
  Effect.gen(function* () {
    const runtime = yield* Effect.runtime<never>()
    const clock = yield* Effect.clock
    const runFork = Runtime.runFork(runtime)
    const background = yield* FiberSet.make()
    // Forks into `background`, which interrupts its fibers when the scope closes and runs nothing after.
    const runInBackground = yield* FiberSet.runtime(background)<never>()
    const breaker = new CircuitBreaker(options.breaker ?? DEFAULT_CIRCUIT_BREAKER)

    const logTransition = (transition: CircuitTransition): Effect.Effect<void> => {
      if (transition === undefined) return Effect.void
      const line = transition === "opened" ? Effect.logWarning(options.log.opened(breaker)) : Effect.logInfo(options.log.closed)
      const annotated = line.pipe(Effect.annotateLogs({ ...options.log.annotations, "circuit.state": breaker.state }))
      return Effect.sync(() => runFork(annotated))
    }

    // An interrupted command counts as failed: a caller's timeout shorter than
    // the command's own interrupts every command sent to a server that hangs,
    // and the breaker must still open.
    const reportOutcome = <A, E>(permit: CircuitPermit, command: Effect.Effect<A, E>) =>
      Effect.onExit(command, (exit) => {
        if (Exit.isSuccess(exit)) return logTransition(breaker.succeeded(permit))
        const transition = breaker.failed(permit, clock.unsafeCurrentTimeMillis())
        // A failed probe opens the breaker again, without a transition to log.
        if (transition === "opened" || permit === "probe") scheduleProbe()
        return logTransition(transition)
      })

    // In the background, so that no request waits for a server that may still hang.
    const probe = reportOutcome("probe", options.probe).pipe(Effect.ignore)

    // Sleeps until the open interval ends, then probes. It does nothing if a
    // command took the probe first, because that probe's outcome schedules the next.
    const probeWhenDue: Effect.Effect<void> = Effect.suspend(() => {
      if (breaker.state !== "open") return Effect.void
      const nowMs = clock.unsafeCurrentTimeMillis()
      // Loops because a timer may fire a little before the wall clock reaches the end.
      if (nowMs < breaker.openUntilMs) return Effect.zipRight(sleepUnreferenced(clock, breaker.openUntilMs - nowMs), probeWhenDue)
      return breaker.acquire(nowMs) === "probe" ? probe : Effect.void
    })

    const scheduleProbe = () => {
      runInBackground(probeWhenDue)
    }

    const run = <A, E, S>(command: Effect.Effect<A, E>, skipped: () => S): Effect.Effect<A, E | S> =>
      Effect.suspend((): Effect.Effect<A, E | S> => {
        const permit = breaker.acquire(clock.unsafeCurrentTimeMillis())
        // A command takes the probe only when it finds the interval over before the timer has fired.
        if (permit === "probe") runInBackground(probe)
        if (permit !== "normal") return Effect.fail(skipped())
        return reportOutcome(permit, command)
      })

    return { breaker, run }
  })
