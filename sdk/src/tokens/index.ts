/**
 * Prompt token estimates with `gpt-tokenizer`, for plugins and the host.
 * A subpath of its own, so that plugins that do not count tokens never load
 * the tokenizer. Its user lists `gpt-tokenizer` among its own dependencies,
 * because the SDK declares it as an optional peer dependency.
 */
export * from "./Encodings.js"
export * from "./PromptText.js"
