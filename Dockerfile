# syntax=docker/dockerfile:1
# Node 22 (maintained LTS): file-type 22, which @nestjs/common 12 depends on, declares node >= 22.
# Build stage: full dependencies, compile TypeScript to dist/ once, then drop the dev dependencies.
FROM node:22-bookworm-slim AS build
# argon2 is compiled from source on install (allowScripts in package.json): it needs a toolchain.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json nest-cli.json ormconfig.ts ./
COPY src ./src
COPY web ./web
COPY migrations ./migrations
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# Runtime: non-root, no build tools; the same image runs as api, worker or both (APP_ROLE).
# Start-up creates the database if needed and applies pending migrations under an advisory lock;
# to migrate on its own: `node node_modules/typeorm/cli.js migration:run -d dist/ormconfig.js`
# (needs DATABASE_URL only).
FROM node:22-bookworm-slim AS runtime
ENV NODE_ENV=production \
    PORT=3000 \
    STORAGE_LOCAL_ROOT=/data/files
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
RUN mkdir -p /data/files && chown -R node:node /data
USER node
EXPOSE 3000
VOLUME ["/data/files"]
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health/live').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"
CMD ["node", "--enable-source-maps", "dist/src/main.js"]
