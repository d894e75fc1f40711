/** The runtime-neutral entry: a gateway as a fetch-API handler, for Deno and other web-standard servers. */
export { parseConfig, type LoadedConfig } from "./config/loadConfig.js"
export { layerLogging } from "./logging.js"
export { makeFetchTransport } from "./web/FetchTransport.js"
export { startWebGateway } from "./web/startWebGateway.js"
export { makeWebHandler } from "./web/webHandler.js"
