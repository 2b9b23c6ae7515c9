# Herald's container image: `herald serve` by default (API, worker and console in one
# process, SQLite under /var/lib/herald unless HERALD_DATABASE_URL names Postgres);
# `herald api`, `herald worker` and `herald migrate` for a cluster (deploy/compose.yaml).
# Built where a container runtime exists: docker build -t herald .

# The console, built once and embedded in the release binary.
FROM node:20-bookworm-slim AS console
WORKDIR /src/admin-ui
COPY admin-ui/package.json admin-ui/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY admin-ui/ ./
COPY openapi/openapi.json /src/openapi/openapi.json
RUN npm run build

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
COPY --from=console /src/admin-ui/dist admin-ui/dist
RUN cargo build --release --locked --bin herald \
 && strip target/release/herald

# Small, non-root, with CA certificates for TLS to providers and curl for the health
# check.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/herald --create-home herald
COPY --from=build /src/target/release/herald /usr/local/bin/herald
USER herald
WORKDIR /var/lib/herald
ENV HERALD_LISTEN=0.0.0.0:8080 \
    HERALD_DATA_DIR=/var/lib/herald \
    HERALD_LOG__FORMAT=json
VOLUME /var/lib/herald
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s \
  CMD curl -fsS http://127.0.0.1:8080/healthz > /dev/null || exit 1
ENTRYPOINT ["herald"]
CMD ["serve"]
