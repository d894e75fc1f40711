/**
 * The two workloads of the benchmark: a plain chat completion and a streamed
 * one. The request bodies are what the load generator sends; the fixtures
 * are the recorded OpenAI responses the mock upstream returns.
 */

export type WorkloadName = "plain" | "stream"

export const workloadNames: ReadonlyArray<WorkloadName> = ["plain", "stream"]

export interface Workload {
  readonly name: WorkloadName
  readonly stream: boolean
  /** The recorded response the mock upstream returns, relative to the test fixtures folder. */
  readonly fixture: string
  /** The request body, about 300 bytes of JSON. */
  readonly requestBody: Buffer
}

/** The path every workload posts to. */
export const chatCompletionsPath = "/v1/chat/completions"

/** The model named in the requests; the Fluxen configuration routes it to the mock upstream. */
export const benchmarkModel = "gpt-4o-mini"

/**
 * The bytes by which the mock upstream recognizes a streaming request.
 * Both proxies send compact JSON, as `JSON.stringify` writes it.
 */
export const streamRequestMarker = Buffer.from('"stream":true')

const chatRequestBody = (stream: boolean): Buffer =>
  Buffer.from(
    JSON.stringify({
      model: benchmarkModel,
      messages: [
        { role: "system", content: "You are a concise assistant for a travel agency. Answer in two sentences." },
        { role: "user", content: "Invent a holiday about the night sky and describe how people would celebrate it." }
      ],
      temperature: 0.2,
      max_tokens: 400,
      user: "bench-user-0001",
      ...(stream ? { stream: true, stream_options: { include_usage: true } } : {})
    })
  )

export const workloads: Readonly<Record<WorkloadName, Workload>> = {
  plain: {
    name: "plain",
    stream: false,
    fixture: "openai/chat-completions/text.json",
    requestBody: chatRequestBody(false)
  },
  stream: {
    name: "stream",
    stream: true,
    fixture: "openai/chat-completions/text-stream-usage.sse",
    requestBody: chatRequestBody(true)
  }
}
