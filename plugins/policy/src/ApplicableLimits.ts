/**
 * The budgets and rate limits that apply to a request: those of its key, of the
 * key's team (from the teams table and the YAML), of the model, and the
 * global ones. When two entries limit the same owner and period (or unit),
 * they share one counter and the lower limit applies.
 */
import type { ResolvedKey } from "./KeyResolver.js"
import type { ApplicableBudget, ApplicableRate, BudgetLimit, LimitOwner, LimitScope, RateLimits } from "./Limits.js"
import type { PeriodWindow } from "./Periods.js"
import type { PolicyConfig } from "./PolicyConfig.js"

/** The counter key of a budget period, below the store's prefix. */
export const budgetCounterKey = (budget: LimitOwner & { readonly limit: BudgetLimit }, window: PeriodWindow): string =>
  `budget:${budget.scope}:${ownerSegment(budget)}:${window.period}:${window.label}`

/** The counter key of a rate limit, below the store's prefix. */
export const rateCounterKey = (rate: ApplicableRate): string => `rate:${rate.scope}:${ownerSegment(rate)}:${rate.unit}`

const ownerSegment = (owner: LimitOwner): string => (owner.scope === "global" ? "_" : encodeURIComponent(owner.name))

type ScopedEntries<A> = Map<string, Array<A>>

const groupByScope = <A extends { readonly scope: LimitScope; readonly name?: string | undefined }>(entries: ReadonlyArray<A>) => {
  const byScope = new Map<LimitScope, ScopedEntries<A>>()
  for (const entry of entries) {
    let byName = byScope.get(entry.scope)
    if (byName === undefined) {
      byName = new Map()
      byScope.set(entry.scope, byName)
    }
    const name = entry.name ?? ""
    const list = byName.get(name) ?? []
    list.push(entry)
    byName.set(name, list)
  }
  return (scope: LimitScope, name: string): ReadonlyArray<A> => byScope.get(scope)?.get(name) ?? []
}

const ratesOf = (owner: LimitOwner, limits: RateLimits | undefined): Array<ApplicableRate> => {
  const rates: Array<ApplicableRate> = []
  if (limits?.requestsPerMinute !== undefined) rates.push({ ...owner, unit: "requests", perMinute: limits.requestsPerMinute })
  if (limits?.tokensPerMinute !== undefined) rates.push({ ...owner, unit: "tokens", perMinute: limits.tokensPerMinute })
  return rates
}

/** The budgets and rate limits of one request, with the counter key of each rate limit. */
export interface RequestLimits {
  readonly budgets: ReadonlyArray<ApplicableBudget>
  readonly rates: ReadonlyArray<ApplicableRate>
  readonly rateKeys: ReadonlyArray<string>
}

const MAX_MEMOIZED_MODELS = 100

export interface RequestOwners {
  readonly key: ResolvedKey | undefined
  /** The model name the client sent. */
  readonly requestedModel: string
  /** The model name sent upstream. */
  readonly upstreamModel: string
}

export const makeApplicableLimits = (config: PolicyConfig) => {
  const yamlBudgets = groupByScope(config.budgets)
  const yamlRates = groupByScope(config.rateLimits)

  const toBudget = (owner: LimitOwner, limit: BudgetLimit): ApplicableBudget => ({
    ...owner,
    limit,
    warnAt: limit.warnAt ?? config.warnAt
  })

  const addBudgets = (into: Map<string, ApplicableBudget>, owner: LimitOwner, limits: ReadonlyArray<BudgetLimit>) => {
    for (const limit of limits) {
      const id = `${owner.scope}:${owner.name}:${limit.period}`
      const existing = into.get(id)
      if (existing === undefined || limit.limitUsd < existing.limit.limitUsd) into.set(id, toBudget(owner, limit))
    }
  }

  const addRates = (into: Map<string, ApplicableRate>, rates: ReadonlyArray<ApplicableRate>) => {
    for (const rate of rates) {
      const id = `${rate.scope}:${rate.name}:${rate.unit}`
      const existing = into.get(id)
      if (existing === undefined || rate.perMinute < existing.perMinute) into.set(id, rate)
    }
  }

  const yamlBudgetLimits = (scope: LimitScope, name: string): Array<BudgetLimit> =>
    yamlBudgets(scope, name).map((entry) => ({ period: entry.period, limitUsd: entry.limitUsd, warnAt: entry.warnAt }))

  const modelNames = (owners: RequestOwners): ReadonlyArray<string> =>
    owners.requestedModel === owners.upstreamModel ? [owners.requestedModel] : [owners.requestedModel, owners.upstreamModel]

  /** Lists the budgets of the key, its team and the gateway; `model` adds the budgets of those model names. */
  const budgetsOf = (key: ResolvedKey | undefined, models: ReadonlyArray<string>): Array<ApplicableBudget> => {
    const budgets = new Map<string, ApplicableBudget>()
    if (key !== undefined) {
      const keyOwner: LimitOwner = { scope: "key", name: key.id }
      addBudgets(budgets, keyOwner, key.budgets)
      addBudgets(budgets, keyOwner, yamlBudgetLimits("key", key.id))
      if (key.team !== null) {
        const teamOwner: LimitOwner = { scope: "team", name: key.team }
        addBudgets(budgets, teamOwner, key.teamBudgets)
        addBudgets(budgets, teamOwner, yamlBudgetLimits("team", key.team))
      }
    }
    for (const model of models) addBudgets(budgets, { scope: "model", name: model }, yamlBudgetLimits("model", model))
    addBudgets(budgets, { scope: "global", name: "" }, yamlBudgetLimits("global", ""))
    return [...budgets.values()]
  }

  const yamlRatesOf = (scope: LimitScope, name: string): Array<ApplicableRate> =>
    yamlRates(scope, name).flatMap((entry) => ratesOf({ scope, name }, entry))

  const ratesFor = (owners: RequestOwners): Array<ApplicableRate> => {
    const rates = new Map<string, ApplicableRate>()
    const key = owners.key
    if (key !== undefined) {
      const keyOwner: LimitOwner = { scope: "key", name: key.id }
      addRates(rates, ratesOf(keyOwner, key.limits))
      addRates(rates, yamlRatesOf("key", key.id))
      if (key.team !== null) {
        addRates(rates, ratesOf({ scope: "team", name: key.team }, key.teamLimits))
        addRates(rates, yamlRatesOf("team", key.team))
      }
    }
    for (const model of modelNames(owners)) addRates(rates, yamlRatesOf("model", model))
    addRates(rates, yamlRatesOf("global", ""))
    return [...rates.values()]
  }

  // The limits of a key and model pair are reused while the resolver keeps
  // the same key object (its cache TTL), since most requests repeat a pair.
  const memo = new WeakMap<object, Map<string, RequestLimits>>()
  const anonymous = {}

  const forRequest = (owners: RequestOwners): RequestLimits => {
    let byModel = memo.get(owners.key ?? anonymous)
    if (byModel === undefined) {
      byModel = new Map()
      memo.set(owners.key ?? anonymous, byModel)
    }
    const modelKey = `${owners.requestedModel}\n${owners.upstreamModel}`
    let found = byModel.get(modelKey)
    if (found === undefined) {
      const rates = ratesFor(owners)
      found = { budgets: budgetsOf(owners.key, modelNames(owners)), rates, rateKeys: rates.map(rateCounterKey) }
      // Clients choose model names, so the memory per key is bounded.
      if (byModel.size >= MAX_MEMOIZED_MODELS) byModel.clear()
      byModel.set(modelKey, found)
    }
    return found
  }

  return {
    forRequest,
    /** The budgets the spend report shows for a key: its own, its team's and the global ones. */
    budgetsOfKey: (key: ResolvedKey) => budgetsOf(key, [])
  }
}

export type ApplicableLimits = ReturnType<typeof makeApplicableLimits>
