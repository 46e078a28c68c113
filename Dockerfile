# The listings server: built with the dev tools, run without them.
#   docker build -t listings-ssr .
#   docker run -p 3002:3002 -e REDIS_URL=redis://redis:6379 -v listings-var:/app/var listings-ssr
# /app/var holds the invalidation journal (SSR_CACHE_JOURNAL): keep it on a volume, one per container.

FROM node:20-bookworm-slim AS build
WORKDIR /app
# The lock file and every workspace's package.json first: the install layer is reused until they change.
COPY package.json package-lock.json ./
COPY packages/ssr-page-cache/package.json packages/ssr-page-cache/
COPY examples/blog/package.json examples/blog/
RUN npm ci --no-audit --no-fund
COPY . .
# The library (tsup) and the server (tsc), then only what runs stays.
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/packages/ssr-page-cache/package.json ./packages/ssr-page-cache/
COPY --from=build /app/packages/ssr-page-cache/dist ./packages/ssr-page-cache/dist
COPY --from=build /app/dist ./dist
RUN mkdir var && chown node:node var
USER node
EXPOSE 3002
CMD ["npm", "run", "start:prod"]
