# syntax=docker/dockerfile:1
# The `portieris` binary as a static (musl) executable in a distroless image: no shell, no
# package manager, CA certificates only; runs as a non-root user.
#
#   docker build -t ghcr.io/portieris-rs/portieris:0.1.0 .
#   docker run --rm ghcr.io/portieris-rs/portieris:0.1.0 --help
#
# The Helm chart runs it as `portieris serve` with the certificates mounted at /etc/certs and
# its settings in PORTIERIS_* environment variables (docs/kubernetes.md).

ARG RUST_VERSION=1.95
FROM docker.io/library/rust:${RUST_VERSION}-alpine AS build
# ring (rustls' crypto) and aws-lc-sys (the crypto of tough, the TUF client that refreshes the
# Sigstore root) compile C and assembly; cmake is aws-lc-sys' builder where its own is not.
RUN apk add --no-cache build-base cmake
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p portieris-webhook --bin portieris \
    && cp target/release/portieris /portieris \
    && strip /portieris \
    && /portieris --version

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /portieris /usr/local/bin/portieris
# 65532 is distroless' "nonroot"; the chart's securityContext.runAsUser overrides it.
USER 65532:65532
EXPOSE 8000 8080
ENTRYPOINT ["/usr/local/bin/portieris"]
CMD ["serve"]
