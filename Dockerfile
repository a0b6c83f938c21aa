# syntax=docker/dockerfile:1.7
# One image per service, from one Dockerfile:
#
#   docker build --build-arg SERVICE=library -t trellis/library .
#
# The builder compiles the one service binary in release mode (protox compiles the protos,
# so no protoc is needed); the runtime is distroless with glibc, as a non-root user.

ARG RUST_VERSION=1.95
ARG SERVICE=library

FROM rust:${RUST_VERSION}-bookworm AS builder
ARG SERVICE
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p "trellis-${SERVICE}" --bin "trellis-${SERVICE}" \
    && install -D "target/release/trellis-${SERVICE}" /out/trellis-service

FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
ARG SERVICE
LABEL org.opencontainers.image.title="trellis-${SERVICE}" \
      org.opencontainers.image.description="Trellis ${SERVICE} service"
COPY --from=builder /out/trellis-service /usr/local/bin/trellis-service
# The Kubernetes manifests run as 10001; distroless's nonroot user is 65532 otherwise.
USER 65532:65532
ENV TRELLIS_LOG_FORMAT=json
ENTRYPOINT ["/usr/local/bin/trellis-service"]
CMD ["serve"]
