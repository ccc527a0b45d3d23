#!/usr/bin/env bash
# bench/sitemap: seed, rebuild on SQLite and PostgreSQL, Go writer vs npm
# sitemap. Flags go to the Go program (go run ./bench/sitemap -h):
#   bench/sitemap/run.sh                      # 1,000,000 salons, 2 rounds
#   bench/sitemap/run.sh -salons 20000 -rounds 1   # smoke
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ ! -f "$here/node/node_modules/sitemap/package.json" ]; then
	(cd "$here/node" && npm ci --no-audit --no-fund)
fi
cd "$here/../.."
exec go run ./bench/sitemap -node-dir "$here/node" "$@"
