import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["{sdk,runtime,providers,plugins,test}/**/src/**/*.test.ts", "{sdk,runtime,test}/src/**/*.test.ts"],
    exclude: ["**/node_modules/**", "**/dist/**"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: "forks",
    fileParallelism: true
  }
})
