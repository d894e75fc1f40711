/** The Node-only part of the token estimates: loading an encoding synchronously. */
export * from "./EncodingsNow.js"
