# syntax=docker/dockerfile:1
# Multi-stage build on Node 24: compile TypeScript with the dev dependencies, then ship only the
# compiled JavaScript, the migrations and the production dependencies, run as an unprivileged user.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY modules ./modules
COPY shared ./shared
RUN npm run build

FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000 PGLITE_DATA_DIR=/data
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY drizzle ./drizzle
RUN mkdir -p /data && chown node:node /data
USER node
# 9464: GET /metrics (Prometheus), METRICS_PORT; publish it to your network only.
EXPOSE 3000 9464
HEALTHCHECK --interval=10s --timeout=3s CMD node -e "fetch('http://127.0.0.1:3000/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# The same image runs the payments module as its own service (README, "Extracting a module"):
#   docker run -e SERVICE_TOKEN=… -e DATABASE_URL=… <image> node dist/src/service-server.js payments
# --max-semi-space-size=64 (MiB): a young generation big enough that a request's and an event
# batch's objects die young instead of being copied into the old generation (README, Benchmarks).
CMD ["node", "--max-semi-space-size=64", "dist/src/server.js"]
