# Atlas with the libvips image engine (build tag vips), in two stages.
#
# Docker cannot run on the machine Atlas is developed on, so this file has
# never been built there; internal/cli/deploy_test.go checks that the
# ATLAS_* variables it sets are real settings and that its command exists.
# See docs/OPERATIONS.md ("Containers").
#
#   docker build -t atlas .
#   docker run --rm -p 8080:8080 atlas run --demo

FROM golang:1.26-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends libvips-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=1 go build -tags vips -trimpath -o /out/atlas ./cmd/atlas

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libvips42 ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --create-home --home-dir /var/lib/atlas atlas
COPY --from=build /out/atlas /usr/local/bin/atlas
USER atlas
WORKDIR /var/lib/atlas
ENV ATLAS_DATA_DIR=/var/lib/atlas \
    ATLAS_ADDR=:8080
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/atlas"]
CMD ["serve"]
