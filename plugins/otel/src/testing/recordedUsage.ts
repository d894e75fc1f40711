/** The usage record of a successful request, as the plugin's tests pass it to `afterUsage`. */
import type { RecordedUsage } from "@fluxen/sdk"

export const recordedOk: RecordedUsage = {
  status: "ok",
  httpStatus: 200,
  usage: { promptTokens: 12, completionTokens: 7, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 },
  estimated: false,
  costUsd: 0.0001
}
