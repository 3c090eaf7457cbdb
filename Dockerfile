# syntax=docker/dockerfile:1
#
# Intake production image: one image, two roles. `intake api` (the default) and
# `intake worker` are chosen by the command, so the API and the workers always run the
# same build of the workflow code (a mismatch would break replay of running events).
#
#   docker build -t intake .
#   docker run --rm -p 3000:3000 --env-file .env intake            # API
#   docker run --rm --env-file .env intake worker                   # worker
#
# The image holds no secrets and no Temporal CLI: `intake dev` / `intake server` (the
# embedded dev server) are for laptops, not for this image.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---------------------------------------------------------------------------------------
# build: full dependency tree (TypeScript and friends) and the compiled output in dist/.
# ---------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app

# Manifests first, so the dependency layer is reused until the lockfile changes.
COPY package.json package-lock.json ./
# --ignore-scripts: `npm ci` would run our own `prepare` (= build) here, before the sources
# are copied. No dependency needs its install script: @temporalio/core-bridge, @swc/core
# and esbuild ship their native binaries as platform packages in the registry.
RUN --mount=type=cache,target=/root/.npm \
    npm ci --ignore-scripts --no-audit --no-fund

COPY tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY src ./src
COPY workflows ./workflows
COPY activities ./activities
# `npm run build` ends with scripts/build-workflow-bundle.ts (plain and traced workflow bundles).
COPY scripts ./scripts
RUN npm run build
# A prebuilt workflow bundle (dist/workflow-bundle.js) spares every worker a webpack run at
# start; the worker falls back to bundling workflows/ itself when it is absent, so the step
# is skipped while package.json has no `build:bundle` script. dist/ is copied over whole.
RUN npm run build:bundle --if-present

# ---------------------------------------------------------------------------------------
# runtime: production dependencies, compiled code and the SQL migrations only.
# ---------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
WORKDIR /app

ENV NODE_ENV=production \
    PORT=3000 \
    INTAKE_DATA_DIR=/app/data

COPY package.json package-lock.json ./
# Same reason for --ignore-scripts as above, and here `prepare` could not even run: tsc is
# a dev dependency. --omit=dev keeps the test and lint tool chains out of the image.
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --ignore-scripts --no-audit --no-fund

COPY --from=build /app/dist ./dist
COPY bin ./bin
# The migrations are read at run time from <package root>/src/store/migrations (the
# package root is the folder holding package.json, i.e. /app); tsc does not copy .sql.
COPY src/store/migrations ./src/store/migrations

# Code and dependencies stay root-owned, so a compromised process cannot rewrite them;
# only the data dir (embedded store, used when DATABASE_URL is unset) is writable.
RUN mkdir -p /app/data && chown node:node /app/data
USER node

EXPOSE 3000

# Liveness only (/healthz answers while the process serves HTTP). Readiness (/readyz, 503
# while Temporal or the store is unreachable) is for load balancers and orchestrators:
# failing liveness on a Temporal outage would restart healthy API processes for nothing.
# The worker serves no HTTP: disable this check for it (docker-compose.yml does).
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# node directly, not npm: signals (SIGTERM on `docker stop`) reach the process, which
# drains in-flight work. Run with an init (`docker run --init`, compose `init: true`) so
# that PID 1 also reaps children and a signal is never dropped.
ENTRYPOINT ["node", "/app/dist/src/cli/main.js"]
CMD ["api"]
