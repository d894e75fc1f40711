/**
 * One upstream request sent with undici's low-level `dispatch`, and its
 * response as an `UpstreamResponse`.
 *
 * `Agent.request` wraps every response body in a Node Readable stream and
 * wires the abort signal through its own listeners. On Fluxen's path that
 * was a large share of undici's cost per request. Here the handler keeps
 * the body's chunks in an array: `bytes()` joins them, and iterating
 * `body` takes them as they arrive. The connection is paused while the
 * reader falls behind by more than `HIGH_WATER_BYTES`, so a slow client
 * slows the upstream instead of filling memory.
 */
import type { CancelNotice, UpstreamResponse } from "@fluxen/sdk"
import { errors, type Dispatcher } from "undici"

const HIGH_WATER_BYTES = 64 * 1024

type Headers = Record<string, string | Array<string> | undefined>

// undici makes a new object of headers for each response. When every value is a string, which is
// usual, that object is the flat record itself and is used without a copy.
const flattenHeaders = (headers: Headers): Record<string, string> => {
  for (const name in headers) {
    if (typeof headers[name] !== "string") return copyFlat(headers)
  }
  return headers as Record<string, string>
}

const copyFlat = (headers: Headers): Record<string, string> => {
  const flat: Record<string, string> = {}
  for (const name in headers) {
    const value = headers[name]
    if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(", ") : value
  }
  return flat
}

const join = (chunks: ReadonlyArray<Buffer>, size: number): Uint8Array =>
  chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks as Array<Buffer>, size)

export class DispatchedCall implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined
  private started = false
  private ended = false
  private failure: unknown = undefined
  private chunks: Array<Buffer> = []
  private queuedBytes = 0
  /** The callback that wakes a reader waiting for the next chunk, the end or a failure. */
  private wake: (() => void) | undefined
  /** The waiting `bytes()` call, if any. It reads the whole body, so the connection is not paused meanwhile. */
  private collector: { resolve: (bytes: Uint8Array) => void; reject: (error: unknown) => void } | undefined
  /** Stops watching the caller's cancellation. */
  private stopWatching: (() => void) | undefined

  constructor(
    private readonly onStart: (response: UpstreamResponse) => void,
    private readonly onFailure: (error: unknown) => void,
    /** Maps an undici error to the gateway's upstream errors. */
    private readonly mapError: (error: unknown) => unknown,
    cancel: CancelNotice | undefined
  ) {
    if (cancel === undefined) return
    if (cancel.cancelled()) this.fail(new errors.RequestAbortedError())
    else this.stopWatching = cancel.watch(this.abortFromCaller)
  }

  private readonly abortFromCaller = () => {
    const error = new errors.RequestAbortedError()
    if (this.controller !== undefined) return this.controller.abort(error)
    // The request has no connection yet, so it fails now and is aborted when undici dispatches it.
    this.fail(error)
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller
    if (this.failure !== undefined) controller.abort(this.failure as Error)
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: Headers): void {
    if (statusCode < 200 || this.started) return
    this.started = true
    this.onStart({
      status: statusCode,
      headers: flattenHeaders(headers),
      body: { [Symbol.asyncIterator]: () => this.iterate() },
      bytes: () => this.bytes(),
      discard: () => this.discard()
    })
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.chunks.push(chunk)
    this.queuedBytes += chunk.length
    if (this.collector === undefined && this.queuedBytes > HIGH_WATER_BYTES) controller.pause()
    this.notify()
  }

  onResponseEnd(): void {
    this.ended = true
    this.release()
    const collector = this.collector
    if (collector !== undefined) {
      this.collector = undefined
      collector.resolve(this.take())
    }
    this.notify()
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.fail(error)
  }

  private fail(error: unknown): void {
    if (this.failure !== undefined && this.started) return
    this.failure = error
    this.release()
    if (!this.started) {
      this.started = true
      this.onFailure(this.mapError(error))
      return
    }
    this.failReaders(error)
  }

  /** Rejects a waiting `bytes()` call and wakes a waiting body iterator, which then throws the failure. */
  private failReaders(error: unknown): void {
    const collector = this.collector
    if (collector !== undefined) {
      this.collector = undefined
      collector.reject(this.mapError(error))
    }
    this.notify()
  }

  private release(): void {
    const stop = this.stopWatching
    this.stopWatching = undefined
    stop?.()
  }

  private notify(): void {
    const wake = this.wake
    if (wake !== undefined) {
      this.wake = undefined
      wake()
    }
  }

  private take(): Uint8Array {
    const bytes = join(this.chunks, this.queuedBytes)
    this.chunks = []
    this.queuedBytes = 0
    return bytes
  }

  private bytes(): Promise<Uint8Array> {
    if (this.ended) return Promise.resolve(this.take())
    if (this.failure !== undefined) return Promise.reject(this.mapError(this.failure))
    return new Promise((resolve, reject) => {
      // Set before resuming, because undici parses what it buffered inside `resume()`,
      // and the data and the end found there must meet the collector.
      this.collector = { resolve, reject }
      if (this.controller?.paused === true) this.controller.resume()
    })
  }

  private async *iterate(): AsyncGenerator<Uint8Array> {
    let finished = false
    try {
      for (;;) {
        if (this.chunks.length > 0) {
          const chunks = this.chunks
          this.chunks = []
          this.queuedBytes = 0
          if (this.controller?.paused === true) this.controller.resume()
          for (const chunk of chunks) yield chunk
          continue
        }
        if (this.failure !== undefined) throw this.mapError(this.failure)
        if (this.ended) {
          finished = true
          return
        }
        await new Promise<void>((resolve) => {
          this.wake = resolve
        })
      }
    } finally {
      if (!finished) this.discard()
    }
  }

  private discard(): void {
    if (this.ended || this.failure !== undefined) return
    const error = new errors.RequestAbortedError()
    this.failure = error
    this.release()
    // undici reports this abort to `onResponseError`, but `fail` ignores it because the failure is
    // already set, so the readers waiting for the body are failed here.
    this.controller?.abort(error)
    this.chunks = []
    this.queuedBytes = 0
    this.failReaders(error)
  }
}
