# syntax=docker/dockerfile:1
# Builder: the Go toolchain, pinned.
# It runs on the build machine's platform and cross-compiles, so the arm64
# image does not build under emulation.
FROM --platform=$BUILDPLATFORM golang:1.26-bookworm AS build
ARG TARGETOS TARGETARCH
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Static, stripped, reproducible: no cgo, no paths, no build id.
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath -ldflags="-s -w -buildid=" -o /out/sops-deploy-action . \
 && mkdir -m 1777 /out/tmp

# Final image: the binary and an empty /tmp, nothing else.
FROM scratch
LABEL org.opencontainers.image.title="sops-deploy-action" \
      org.opencontainers.image.description="Decrypt SOPS+age secrets in memory and install them over SFTP" \
      org.opencontainers.image.source="https://github.com/productgalaxy/sops-deploy-action"
COPY --from=build /out/tmp /tmp
COPY --from=build /out/sops-deploy-action /sops-deploy-action
# No USER line: the runner mounts the workspace and the file-command files
# owned by its own user and expects the action to run as root to read and
# write them. No WORKDIR: the runner sets /github/workspace itself.
ENTRYPOINT ["/sops-deploy-action"]
