#!/bin/sh
# Runs bench/media: Atlas's variant handler (libvips and pure-Go engines)
# against Sharp, then the upload latency, async vs sync. Flags go to the
# Go harness (see: go run -tags vips . -h). Needs libvips-dev and node/npm.
set -eu
cd "$(dirname "$0")"
if [ ! -d node/node_modules/sharp ]; then
	(cd node && npm ci --no-audit --no-fund)
fi
exec go run -tags vips . "$@"
