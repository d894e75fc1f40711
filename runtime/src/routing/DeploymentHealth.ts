/**
 * What the router remembers about each deployment: recent failures, for the
 * cooldown, and an exponentially weighted average of the time to first
 * byte, for the `latency` strategy. One instance per gateway, in memory. A
 * reload's gateway takes over the states of the deployments it keeps.
 */
export interface CooldownPolicy {
  /** Failures within `windowMs` that put a deployment in cooldown. */
  readonly failures: number
  readonly windowMs: number
  readonly durationMs: number
}

interface HealthState {
  failureTimes: Array<number>
  cooldownUntil: number
  /** Average time to first byte in milliseconds; undefined until measured. */
  latencyMs: number | undefined
}

/** Weight of the newest latency sample in the moving average. */
const latencySmoothing = 0.3

export class DeploymentHealth {
  private readonly states = new Map<string, HealthState>()

  constructor(private readonly policy: CooldownPolicy) {}

  /**
   * Takes over the state of each deployment in `ids` from `previous`, the health of the gateway
   * that a reload replaces. Call it before the first request, because it replaces states.
   * With the same cooldown policy, both gateways share each state object, so the outcomes of
   * the requests that the old gateway still finishes count here too. With another policy, the
   * failures and cooldowns were counted against the old thresholds, so they start fresh and
   * only the latency average carries over.
   */
  carryOver(previous: DeploymentHealth, ids: ReadonlySet<string>): void {
    const samePolicy =
      previous.policy.failures === this.policy.failures &&
      previous.policy.windowMs === this.policy.windowMs &&
      previous.policy.durationMs === this.policy.durationMs
    for (const [id, state] of previous.states) {
      if (!ids.has(id)) continue
      this.states.set(id, samePolicy ? state : { failureTimes: [], cooldownUntil: 0, latencyMs: state.latencyMs })
    }
  }

  private state(id: string): HealthState {
    let state = this.states.get(id)
    if (state === undefined) {
      state = { failureTimes: [], cooldownUntil: 0, latencyMs: undefined }
      this.states.set(id, state)
    }
    return state
  }

  isCoolingDown(id: string, now: number): boolean {
    return (this.states.get(id)?.cooldownUntil ?? 0) > now
  }

  /** Records a retryable failure; returns true when it started a cooldown. */
  recordFailure(id: string, now: number): boolean {
    const state = this.state(id)
    state.failureTimes = state.failureTimes.filter((time) => now - time < this.policy.windowMs)
    state.failureTimes.push(now)
    if (state.failureTimes.length >= this.policy.failures && state.cooldownUntil <= now) {
      state.cooldownUntil = now + this.policy.durationMs
      state.failureTimes = []
      return true
    }
    return false
  }

  recordSuccess(id: string, firstByteMs: number): void {
    const state = this.state(id)
    state.failureTimes = []
    state.latencyMs = state.latencyMs === undefined ? firstByteMs : state.latencyMs + latencySmoothing * (firstByteMs - state.latencyMs)
  }

  latency(id: string): number | undefined {
    return this.states.get(id)?.latencyMs
  }
}
