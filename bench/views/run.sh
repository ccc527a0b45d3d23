#!/usr/bin/env bash
# bench/views: post views ingested per second through HTTP, async against
# sync, on SQLite and on PostgreSQL + Redis; atlas (the built binary) and
# wrk each in their own process. Flags go to the Go program
# (go run ./bench/views -h):
#   bench/views/run.sh                                  # full run, about 3.5 minutes
#   bench/views/run.sh -duration 1s -warmup 1s -flush-every 1s -healthz=false -quiet-too=false   # smoke (CI)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../.."
bin="$(mktemp -d)"
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/atlas" ./cmd/atlas
go run ./bench/views -atlas "$bin/atlas" "$@"
