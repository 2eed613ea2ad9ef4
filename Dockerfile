FROM node:20-bookworm-slim
WORKDIR /app
# package.json's allowScripts keeps the install scripts of onnxruntime-node, node-llama-cpp, protobufjs and
# esbuild from running (their prebuilt binaries ship in the packages). npm reads that field from 11.16 on;
# Node 20's bundled npm 10 ignores it, so the image uses the npm the repository is installed with.
RUN npm install -g npm@11.19.1 --no-audit --no-fund
ENV NODE_LLAMA_CPP_SKIP_DOWNLOAD=true
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY . .
# The web console's bundle (npm ci above ran before the sources were here).
RUN npm run build
ENV NODE_ENV=production
CMD ["node", "bin/quorum.js", "doctor"]
