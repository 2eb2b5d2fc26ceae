# Clawbot in a container: built with the same install steps CI proves on a clean machine (npm ci, then the build),
# run as an unprivileged user, the model and the data directory as volumes. docs/deploy.md explains the stack.

# --- build: dependencies (native modules included) and the compiled CLI ---
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY . .
RUN npm ci --no-audit --no-fund \
 && npm run build \
 && npm prune --omit=dev

# --- run ---
FROM node:20-bookworm-slim
RUN groupadd --system --gid 10001 clawbot \
 && useradd --system --uid 10001 --gid clawbot --home-dir /var/lib/clawbot --no-create-home clawbot \
 && mkdir -p /var/lib/clawbot /models /etc/clawbot \
 && chown clawbot:clawbot /var/lib/clawbot \
 && chmod 700 /var/lib/clawbot
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/bin ./bin
COPY --from=build /app/dist ./dist
COPY --from=build /app/web ./web
COPY --from=build /app/node_modules ./node_modules
COPY deploy/clawbot.yaml /etc/clawbot/clawbot.yaml
ENV NODE_ENV=production \
    CLAWBOT_HOME=/var/lib/clawbot
# The model files (read-only is fine) and the node's data: sessions, audit ledger, knowledge base, keys.
VOLUME ["/models", "/var/lib/clawbot"]
USER clawbot
# WebSocket + OpenAI-compatible HTTP on 8080; Prometheus metrics on 9090.
EXPOSE 8080 9090
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/healthz').then((response) => process.exit(response.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "bin/clawbot.js"]
CMD ["start", "--config", "/etc/clawbot/clawbot.yaml"]
