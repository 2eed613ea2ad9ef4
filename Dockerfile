FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY . .
# The web console's bundle (npm ci above ran before the sources were here).
RUN npm run build
ENV NODE_ENV=production
CMD ["node", "bin/quorum.js", "doctor"]
