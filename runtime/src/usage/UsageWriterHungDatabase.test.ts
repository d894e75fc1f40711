/**
 * The usage writer while PostgreSQL hangs: the writer reaches the real server
 * through a TCP proxy, which the tests pause so that every connection stays
 * open and silent, as with a stalled server or a network partition.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { UsageStore } from "./UsageStore.js"
import { captureLogs, countUsage, makeUsageRecord, openPostgresThroughProxy, waitUntil } from "./UsageTesting.js"
import { UsageWriter, type UsageWriterOptions } from "./UsageWriter.js"

const buildWriter = (options: UsageWriterOptions, services: Context.Context<UsageStore>) =>
  Layer.build(UsageWriter.layer(options)).pipe(
    Effect.map((context) => Context.get(context, UsageWriter)),
    Effect.provide(services)
  )

const insertTimeoutMs = 300

describe("UsageWriter while PostgreSQL hangs", () => {
  // Live, because the insert timeout and the retry delays run on the real clock.
  it.scopedLive("retries a hung insert", () =>
    Effect.gen(function* () {
      const { services, proxy } = yield* openPostgresThroughProxy({ connectTimeout: "1 second" })
      const { layer: logLayer, logs } = captureLogs()
      const writer = yield* buildWriter(
        { flushIntervalMs: 50, retryDelayMs: 10, maxRetryDelayMs: 50, insertTimeoutMs },
        services
      ).pipe(Effect.provide(logLayer))

      yield* proxy.pause
      const started = Date.now()
      for (let index = 0; index < 3; index++) {
        writer.record(makeUsageRecord())
      }
      yield* waitUntil(
        "two insert attempts have failed",
        Effect.map(writer.stats, (stats) => stats.failedFlushes >= 2)
      )
      const firstFailureMs = Date.now() - started
      const whileHung = yield* writer.stats

      expect(whileHung.queued).toBe(3)
      expect(whileHung.written).toBe(0)
      expect(whileHung.dropped).toBe(0)
      // Two attempts of 300 ms each, with a margin for a slow machine.
      expect(firstFailureMs).toBeLessThan(3_000)
      const errors = logs.filter((log) => log.level === "ERROR")
      expect(errors.length).toBeGreaterThanOrEqual(2)
      expect(errors[0]!.message).toContain("Inserting 3 usage records failed on attempt 1")
      expect(errors[0]!.annotations["error"]).toBe(`Timed out after ${insertTimeoutMs} ms waiting for the database to complete the insert`)

      yield* proxy.resume
      const sql = Context.get(services, SqlClient.SqlClient)
      yield* waitUntil(
        "the writer has written the 3 records",
        Effect.map(writer.stats, (stats) => stats.written === 3),
        "10 seconds"
      )
      const afterResume = yield* writer.stats

      expect(afterResume.queued).toBe(0)
      expect(afterResume.dropped).toBe(0)
      expect(yield* Effect.provideService(countUsage, SqlClient.SqlClient, sql)).toBe(3)
    }), { timeout: 30_000 })
})
