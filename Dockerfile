# Fluxen gateway image. Build from the repository root: docker build -t fluxen .

# ---- build: install all dependencies, compile TypeScript, then drop dev dependencies
FROM node:20-bookworm-slim AS build

# better-sqlite3 compiles its native addon with node-gyp when no prebuilt binary can be downloaded.
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# The whole context (see .dockerignore), because npm ci needs the manifest of
# every workspace and the workspaces change more often than this file.
COPY . .
# onnxruntime-node's install script would download CUDA libraries the image does not use;
# its CPU binaries ship inside the npm package.
ENV ONNXRUNTIME_NODE_INSTALL=skip
RUN npm ci --no-audit --no-fund
# tsc -b compiles the test workspace too. It is then dropped from the workspaces, so that the
# prune also removes the packages only the tests use (the openai and Anthropic SDKs, Playwright).
RUN npm run build \
  && node -e 'const fs = require("fs"); const p = JSON.parse(fs.readFileSync("package.json", "utf8")); p.workspaces = p.workspaces.filter((w) => w !== "test"); fs.writeFileSync("package.json", JSON.stringify(p, null, 2) + "\n")' \
  && npm prune --omit=dev --no-audit --no-fund \
  && rm -rf test

# ---- runtime: compiled workspaces and production dependencies
FROM node:20-bookworm-slim

# config/fluxen.yaml reads the listen address from FLUXEN_HOST (default 127.0.0.1, unreachable from outside a container).
ENV FLUXEN_HOST=0.0.0.0

WORKDIR /app
COPY --from=build /app /app

# config/fluxen.yaml keeps its SQLite file at ../data/fluxen.db, i.e. /app/data, when DATABASE_URL is empty.
RUN mkdir -p /app/data && chown node:node /app/data
VOLUME /app/data

USER node
EXPOSE 8080

# The slim image has no curl; Node 20's fetch does the probe.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.FLUXEN_PORT || 8080) + '/healthz').then((response) => process.exit(response.ok ? 0 : 1), () => process.exit(1))"]

# runtime/bin/fluxen-node starts node with single-threaded garbage collection when the container may use one CPU.
CMD ["runtime/bin/fluxen-node", "start", "--config", "config/fluxen.yaml"]
