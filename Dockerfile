# net-sync sidecar image. Multi-stage: compile TypeScript and better-sqlite3 (from source: no
# prebuilt download) in the full Debian image, then run on the slim one with production
# dependencies only, as the unprivileged `node` user. Tested by test/unit/deploy/deploy-files.test.ts
# (no Docker engine there: the file is parsed and its wiring checked).

FROM node:20-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
ENV npm_config_build_from_source=true
RUN npm ci --no-audit --no-fund
# tsconfig.json compiles src, bench and the test support code together.
COPY tsconfig.json ./
COPY src ./src
COPY bench ./bench
COPY test/support ./test/support
RUN npx tsc -p tsconfig.json \
 && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    NET_SYNC_BUFFER_PATH=/var/lib/net-sync/net-sync.db \
    NET_SYNC_MESH_KEY_FILE=/var/lib/net-sync/net-sync.key \
    NET_SYNC_API_LISTEN=127.0.0.1:7654
WORKDIR /app
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist/src ./dist/src
COPY schemas ./schemas
COPY examples ./examples
# The outbox and the identity live in one volume, private to the service user.
RUN mkdir -p /var/lib/net-sync && chown node:node /var/lib/net-sync && chmod 0700 /var/lib/net-sync
USER node
VOLUME ["/var/lib/net-sync"]
# 7654: local HTTP API (loopback unless NET_SYNC_API_LISTEN says otherwise); 4001: libp2p.
EXPOSE 7654 4001
# /healthz is the one route without the bearer token; the port follows NET_SYNC_API_LISTEN.
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["node", "-e", "const p=(process.env.NET_SYNC_API_LISTEN||'127.0.0.1:7654').split(':').pop();fetch('http://127.0.0.1:'+p+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/src/cli/main.js"]
CMD ["start"]
