/** Polls `check` every 100 ms until it returns true; throws with `output()` after 20 seconds. */
export const waitFor = async (check: () => Promise<boolean>, what: string, output: () => string) => {
  const deadline = Date.now() + 20_000
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`Timed out waiting for ${what}:\n${output()}`)
}
