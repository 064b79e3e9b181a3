# Tandem: build with npm tooling only (TypeScript + AssemblyScript), run the compiled JS.
FROM node:20-bookworm-slim AS build
WORKDIR /app
# A compiler and Python for node-gyp: npm ci builds the batched UDP addon (native/, --io=batch).
RUN apt-get update && apt-get install -y --no-install-recommends build-essential python3 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
COPY native ./native
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY wasm ./wasm
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/wasm/build ./wasm/build
COPY --from=build /app/native/build/Release/udp_batch.node ./native/build/Release/udp_batch.node
# ng control on 22222/udp, media on 30000-40000/udp. Media addresses go into SDP, so run with
# --network host and pass the host's address: docker run --network host tandem --interface=IP
# (the ng port has no authentication: keep --listen-ng on an address only the proxy reaches).
EXPOSE 22222/udp
# Admin HTTP (/metrics, /readyz, tandem ctl). It binds 127.0.0.1 unless told: with --network host
# that is the host's loopback; give --listen-http=IP:9900 to scrape it from elsewhere (a management
# network only: it has no authentication).
EXPOSE 9900/tcp
# SIGTERM drains (new calls refused, live ones go on up to --drain-timeout, 3600 s by default):
# stop with `docker stop -t 3700` so Docker does not SIGKILL it first.
STOPSIGNAL SIGTERM
USER node
ENTRYPOINT ["node", "dist/cli/tandem.js"]
