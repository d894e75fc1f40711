/**
 * The parts of Deno's global namespace that the Deno entry uses, typed here
 * because the runtime compiles against Node's types.
 */

export type StopSignal = "SIGINT" | "SIGTERM"

export interface DenoServer {
  readonly addr: { readonly hostname: string; readonly port: number }
  /** Stops accepting connections; resolves when every handler's response is complete. */
  shutdown(): Promise<void>
}

export interface DenoNamespace {
  readonly args: ReadonlyArray<string>
  readonly env: { toObject(): Record<string, string> }
  readTextFile(path: string): Promise<string>
  serve(options: { hostname: string; port: number; onListen: () => void }, handler: (request: Request) => Promise<Response>): DenoServer
  addSignalListener(signal: StopSignal, handler: () => void): void
  removeSignalListener(signal: StopSignal, handler: () => void): void
  exit(code: number): never
}

export const Deno = (globalThis as unknown as { readonly Deno: DenoNamespace }).Deno
