# Build the manager binary.
FROM golang:1.26.8-bookworm AS builder
# Set by BuildKit (docker buildx, docker build since 23.0) to the platform being built, so one
# Dockerfile serves "docker buildx build --platform linux/amd64,linux/arm64". Empty values fall back
# to the builder's own platform.
ARG TARGETOS
ARG TARGETARCH

WORKDIR /workspace
# Download the modules in a layer of their own, before the sources are copied, so that a source
# change does not download them again.
COPY go.mod go.sum ./
RUN go mod download

# Only the packages the manager is built from: a change to tests' data, hack/ or config/ does not
# invalidate the build layer.
COPY main.go main.go
COPY api/ api/
COPY controllers/ controllers/
COPY internal/ internal/

# CGO off: the binary runs on distroless/static, which has no libc. -trimpath and -s -w keep
# build paths and debug symbols out of the image.
RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags='-s -w' -o manager .

# distroless/static:nonroot has no shell or package manager, only CA certificates (for SWR and IAM
# over HTTPS) and tzdata.
FROM gcr.io/distroless/static:nonroot
WORKDIR /
COPY --from=builder /workspace/manager .
# Numeric, so that the kubelet can verify runAsNonRoot without reading /etc/passwd.
USER 65532:65532

ENTRYPOINT ["/manager"]
