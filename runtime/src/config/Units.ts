/** The configuration's unit schemas live in the SDK, so plugins read durations and sizes the same way. */
export { ByteSize, TimerMillis, TimerMillisOrZero } from "@fluxen/sdk"
