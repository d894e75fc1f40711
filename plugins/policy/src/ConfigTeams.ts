/**
 * The teams that `fluxen.yaml` declares: every name of a `team` entry under
 * `budgets` or `rateLimits`, with those limits. The admin API lists them
 * next to the teams table, read-only, as it does with the static keys.
 */
import type { BudgetLimit, RateLimits } from "./Limits.js"
import type { PolicyConfig } from "./PolicyConfig.js"

export interface ConfigTeam {
  readonly name: string
  readonly budgets: ReadonlyArray<BudgetLimit>
  /** The lowest limit per unit, because that one applies when several entries name the team. */
  readonly limits: RateLimits
}

const lower = (current: number | undefined, next: number | undefined): number | undefined => {
  if (current === undefined) return next
  if (next === undefined) return current
  return Math.min(current, next)
}

/** Lists the teams of the YAML in the order they first appear. */
export const configTeams = (config: Pick<PolicyConfig, "budgets" | "rateLimits">): ReadonlyArray<ConfigTeam> => {
  const teams = new Map<string, { budgets: Array<BudgetLimit>; limits: RateLimits }>()
  const teamNamed = (name: string) => {
    let team = teams.get(name)
    if (team === undefined) {
      team = { budgets: [], limits: {} }
      teams.set(name, team)
    }
    return team
  }

  for (const entry of config.budgets) {
    if (entry.scope !== "team" || entry.name === undefined) continue
    const budget: BudgetLimit = { period: entry.period, limitUsd: entry.limitUsd, ...(entry.warnAt === undefined ? {} : { warnAt: entry.warnAt }) }
    teamNamed(entry.name).budgets.push(budget)
  }
  for (const entry of config.rateLimits) {
    if (entry.scope !== "team" || entry.name === undefined) continue
    const team = teamNamed(entry.name)
    const requestsPerMinute = lower(team.limits.requestsPerMinute, entry.requestsPerMinute)
    const tokensPerMinute = lower(team.limits.tokensPerMinute, entry.tokensPerMinute)
    team.limits = {
      ...(requestsPerMinute === undefined ? {} : { requestsPerMinute }),
      ...(tokensPerMinute === undefined ? {} : { tokensPerMinute })
    }
  }
  return [...teams].map(([name, team]) => ({ name, ...team }))
}
