/**
 * The parts of a test framework the conformance suites use. Vitest's
 * `describe`, `it` and `expect` fit these types, and so do Jest's, so the
 * SDK depends on neither: a plugin's test file passes in its own.
 */

export interface ConformanceAssertion {
  readonly not: ConformanceAssertion
  toBe(expected: unknown): void
  toEqual(expected: unknown): void
  toBeDefined(): void
  toBeGreaterThan(expected: number): void
  toBeLessThan(expected: number): void
  toContain(expected: unknown): void
  toMatch(expected: string | RegExp): void
}

export interface ConformanceTestApi {
  readonly describe: (name: string, body: () => void) => void
  /** The third argument is the test's timeout in milliseconds. */
  readonly it: (name: string, body: () => Promise<void>, timeoutMs?: number) => void
  readonly expect: (actual: unknown, message?: string) => ConformanceAssertion
  /**
   * When given, a suite builds the plugin once and shares it among its
   * tests, closing it here; otherwise each test builds its own.
   */
  readonly afterAll?: (body: () => Promise<void>) => void
}
