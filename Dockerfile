# Crontopus in one image: the server, the CLI and the agent binaries it hands out at /download/….
#
#   docker compose up -d                  (docker-compose.yml builds this file)
#   docker build -t crontopus .
#
# Behind a registry mirror or a TLS-intercepting proxy, both optional (BuildKit, the default builder):
#   docker build --build-arg NPM_CONFIG_REGISTRY=https://npm.example.com/ \
#     --secret id=npm_ca,src=/path/to/ca.pem -t crontopus .
# Set CRONTOPUS_COMMIT (--build-arg) for `crontopus version` to name the commit: a build context has no .git.
# See docs/deployment.md.

# ---- build: npm ci, then `bun run build` (one binary per platform, everything embedded)
FROM debian:bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates nodejs npm \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The registry npm installs from; the Bun runtimes of the cross-compiles come from it too.
ARG NPM_CONFIG_REGISTRY=https://registry.npmjs.org/
COPY package.json package-lock.json ./
# The runtime's dependencies and Bun, nothing for development.
RUN --mount=type=secret,id=npm_ca --mount=type=cache,target=/root/.npm \
    if [ -f /run/secrets/npm_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm_ca; fi; \
    npm ci --omit=dev --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts/build.ts scripts/
COPY migrations migrations/
COPY public/build public/build/
COPY views views/
COPY agent agent/
COPY src src/
ARG CRONTOPUS_COMMIT=unknown
RUN --mount=type=secret,id=npm_ca --mount=type=cache,target=/root/.npm \
    if [ -f /run/secrets/npm_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm_ca; fi; \
    CRONTOPUS_COMMIT="$CRONTOPUS_COMMIT" node_modules/.bin/bun scripts/build.ts

# ---- runtime: Debian slim, the binaries, a user of its own
FROM debian:bookworm-slim
# GitOps runs git (https through libcurl, which needs the CA certificates) and ssh for ssh remotes
# (docs/gitops.md). Deploy keys are made by the server itself: no ssh-keygen needed.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates git openssh-client \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --gid 10001 crontopus \
 && useradd --uid 10001 --gid crontopus --home-dir /data --no-create-home --shell /usr/sbin/nologin crontopus \
 && mkdir /data && chown crontopus:crontopus /data && chmod 700 /data
# Served at /download/<os>-<arch> (with their SHA-256 at /download/<os>-<arch>.sha256).
COPY --from=build /src/dist/ /opt/crontopus/downloads/
# The server is this machine's own build, the same file the agents download.
RUN case "$(uname -m)" in \
      x86_64) arch=x64 ;; \
      aarch64) arch=arm64 ;; \
      *) echo "no build for $(uname -m)" >&2; exit 1 ;; \
    esac \
 && ln -s "/opt/crontopus/downloads/crontopus-linux-$arch" /usr/local/bin/crontopus \
 && crontopus version
ENV CRONTOPUS_DATA_DIR=/data \
    CRONTOPUS_DOWNLOAD_DIR=/opt/crontopus/downloads \
    CRONTOPUS_PORT=8080
VOLUME /data
WORKDIR /data
USER crontopus
EXPOSE 8080
# `crontopus health` asks /health at $CRONTOPUS_PORT, so a changed port is followed.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["crontopus", "health"]
ENTRYPOINT ["crontopus"]
CMD ["serve"]
