/**
 * Starts the migrations of each kind four times at once on an empty
 * PostgreSQL schema, as gateway instances that start together do, each
 * through a connection pool of its own.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as PgClient from "@effect/sql-pg/PgClient"
import { describe, expect, it } from "@effect/vitest"
import { forecasterMigrationsTable, runForecasterMigrations } from "@fluxen/forecaster"
import { policyMigrationsTable, runPolicyMigrations } from "@fluxen/policy"
import { runUsageMigrations } from "@fluxen/runtime"
import { Context, Effect, Exit, Layer, Redacted } from "effect"
import { createTestSchema } from "../../../plugins/policy/src/testing/PolicyTesting.js"

const INSTANCES = 4

const kinds = [
  {
    name: "usage",
    run: runUsageMigrations,
    tables: ["fluxen_usage", "fluxen_usage_migrations"]
  },
  {
    name: "policy",
    run: runPolicyMigrations,
    tables: ["fluxen_policy_keys", "fluxen_policy_teams", "fluxen_policy_audit", policyMigrationsTable]
  },
  {
    name: "forecaster",
    run: runForecasterMigrations,
    tables: ["fluxen_forecaster_alerts", "fluxen_forecaster_shadow", forecasterMigrationsTable]
  }
]

describe.each(kinds)("$name migrations started together", (kind) => {
  it.scoped("all four instances succeed", () =>
    Effect.gen(function* () {
      const url = yield* createTestSchema
      const clients = yield* Effect.forEach(Array.from({ length: INSTANCES }), () =>
        Layer.build(PgClient.layer({ url: Redacted.make(url.toString()), maxConnections: 1 }))
      )
      const sql = Context.get(clients[0]!, SqlClient.SqlClient)

      const results = yield* Effect.forEach(clients, (client) => Effect.exit(Effect.provide(kind.run, client)), {
        concurrency: "unbounded"
      })
      const existing = yield* sql<{ name: string }>`
        SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema()`
      const names = new Set(existing.map((row) => row.name))

      for (const result of results) expect(Exit.isSuccess(result), String(result)).toBe(true)
      // Exactly one instance applies each migration; the others find it applied.
      const appliedIds = results.flatMap((result) => (Exit.isSuccess(result) ? result.value.map(([id]) => id) : []))
      expect(appliedIds.length).toBeGreaterThan(0)
      expect(new Set(appliedIds).size).toBe(appliedIds.length)
      for (const table of kind.tables) expect(names.has(table), `table ${table}`).toBe(true)
    })
  )
})
