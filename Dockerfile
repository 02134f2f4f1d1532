# One image, three commands: the API (default), the worker and the fake payments provider
# (see docker-compose.yml). The Node version matches .nvmrc and CI (F11).

# ---- build: compile TypeScript to dist/ ----
FROM node:24.21.0-bookworm-slim AS build
WORKDIR /app
# Manifests first, so the dependency layer is reused until they change.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY src ./src
RUN npm run build

# ---- runtime: production dependencies and dist/ only ----
FROM node:24.21.0-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# Never root at run time; the node user ships with the official image.
USER node
EXPOSE 3000 3001 4010
CMD ["node", "dist/main.js"]
