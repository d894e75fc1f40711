import { describe, expect, it } from "@effect/vitest"
import type { ProviderAdapter } from "@fluxen/sdk"
import { Either } from "effect"
import { parseConfig } from "../config/loadConfig.js"
import { ModelRouter } from "./ModelRouter.js"

const configText = (models: string, cooldownDuration = "1 minute") => `
providers:
  primary: { use: "@fluxen/provider-openai" }
  backup: { use: "@fluxen/provider-openai" }
models:
${models}
routing:
  cooldown: { failures: 2, window: 1 minute, duration: ${cooldownDuration} }
`

const pair = (name: string) => `  ${name}:
    strategy: ordered
    deployments:
      - { provider: primary, model: ${name} }
      - { provider: backup, model: ${name} }
`

const configOf = (text: string) => Either.getOrThrow(parseConfig(text, { source: "fluxen.yaml", directory: "/srv", env: {} })).config

const adapter = (): ProviderAdapter => ({}) as ProviderAdapter

/** Puts the deployment `id` of `router` in cooldown, as two upstream failures in a row do. */
const coolDown = (router: ModelRouter, id: string): void => {
  const now = Date.now()
  router.health.recordFailure(id, now)
  router.health.recordFailure(id, now)
}

describe("ModelRouter reload", () => {
  const primary = adapter()
  const backup = adapter()

  it("keeps cooldowns of kept deployments", () => {
    const previous = new ModelRouter(configOf(configText(pair("a") + pair("b"))), new Map([["primary", primary], ["backup", backup]]))
    coolDown(previous, "primary/a")
    coolDown(previous, "primary/b")

    // The reload drops model `b` and adds `c`, and keeps both providers.
    const next = new ModelRouter(configOf(configText(pair("a") + pair("c"))), new Map([["primary", primary], ["backup", backup]]), previous)

    expect(next.health.isCoolingDown("primary/a", Date.now())).toBe(true)
    expect(next.health.isCoolingDown("primary/b", Date.now())).toBe(false)
  })

  it("restarted provider starts fresh", () => {
    const previous = new ModelRouter(configOf(configText(pair("a"))), new Map([["primary", primary], ["backup", backup]]))
    coolDown(previous, "primary/a")
    coolDown(previous, "backup/a")

    // The reload restarted `primary` (for example with a new key), so its adapter is a new instance.
    const next = new ModelRouter(configOf(configText(pair("a"))), new Map([["primary", adapter()], ["backup", backup]]), previous)

    expect(next.health.isCoolingDown("primary/a", Date.now())).toBe(false)
    expect(next.health.isCoolingDown("backup/a", Date.now())).toBe(true)
  })

  it("changed cooldown starts fresh", () => {
    const adapters = new Map([["primary", primary], ["backup", backup]])
    const previous = new ModelRouter(configOf(configText(pair("a"))), adapters)
    coolDown(previous, "primary/a")

    const next = new ModelRouter(configOf(configText(pair("a"), "10 seconds")), adapters, previous)

    expect(next.health.isCoolingDown("primary/a", Date.now())).toBe(false)
  })
})
