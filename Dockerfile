# No "# syntax=" line: it makes BuildKit pull a frontend image from Docker
# Hub on every build, which fails on runners without Docker Hub access. The
# built-in frontend is enough, and the classic builder (act, and runners
# with DOCKER_BUILDKIT=0) ignores the line anyway.
#
# Builder: the Go toolchain, pinned. It runs on the build machine's platform
# and cross-compiles, so an arm64 image does not build under emulation.
# BuildKit sets BUILDPLATFORM, TARGETOS and TARGETARCH itself; the classic
# builder predefines none of them, hence the defaults in the expansions
# (an ARG with a default would override BuildKit's automatic value).
FROM --platform=${BUILDPLATFORM:-linux/amd64} golang:1.26-bookworm AS build
ARG TARGETOS
ARG TARGETARCH
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Static, stripped, reproducible: no cgo, no paths, no build id, no VCS stamp
# (the build context carries no .git; see .dockerignore).
RUN CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH:-amd64} go build -trimpath -buildvcs=false -ldflags="-s -w -buildid=" -o /out/sops-deploy-action . \
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
