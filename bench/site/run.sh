#!/usr/bin/env bash
# Load-tests the public salon and city pages with wrk (a separate process)
# against `atlas run --demo` on SQLite, and on PostgreSQL when
# ATLAS_BENCH_DATABASE_URL is set (a schema of its own is created and
# dropped). For each page kind: the highest throughput (wrk, 2 threads,
# 32 connections, no pacing) and the latency at up to 500 and 600
# requests/s (20 or 24 connections each waiting 40 ms between requests; wrk
# has no fixed-rate mode, so the rate falls when latency grows), with the
# server's CPU time per request. Requests rotate over
# every salon (or city) URL of the demo sitemap, so the read cache is
# exercised as it is in production (one entry per page, TTL 1m).
#   bench/site/run.sh [seconds]      (default 20 s per run)
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-20}
port=${ATLAS_BENCH_PORT:-18180}
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
go build -o "$work/atlas" ./cmd/atlas

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# measure NAME ARGS…: runs wrk with ARGS and prints its percentiles, rate
# and the server's CPU time per request (from /proc: user + system).
measure() {
	local label=$1
	shift
	local before after out n
	before=$(cpu_ticks "$pid")
	out=$(wrk "$@" --latency -s bench/site/paths.lua "http://127.0.0.1:$port")
	after=$(cpu_ticks "$pid")
	n=$(echo "$out" | awk '/requests in/ {print $1}')
	echo "-- $label"
	echo "$out" | grep -E 'Requests/sec|^ +(50|90|99)%|non-200|requests in'
	awk -v t=$((after - before)) -v n="$n" -v hz="$(getconf CLK_TCK)" \
		'BEGIN { printf "server CPU: %.3f ms per request\n", t * 1000 / hz / n }'
}

run_one() { # name, database URL ('' for SQLite)
	local name=$1 db=$2
	ATLAS_DATA_DIR="$work/data-$name" ATLAS_ADDR="127.0.0.1:$port" ATLAS_DATABASE_URL="$db" \
		ATLAS_BASE_URL="http://127.0.0.1:$port" ATLAS_LOG_LEVEL=warn \
		"$work/atlas" run --demo >"$work/$name.log" 2>&1 &
	pid=$!
	for _ in $(seq 1 300); do
		curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && grep -q 'listening on' "$work/$name.log" && break
		sleep 0.5
	done
	# Let the demo photos finish processing (CPU the measurement must not share).
	for id in $(seq 1 40); do
		for _ in $(seq 1 600); do
			curl -fsS "http://127.0.0.1:$port/api/v1/media/$id" | grep -q '"status":"ready"' && break
			sleep 0.5
		done
	done
	# Every salon and city URL of the sitemap, as paths.
	for f in $(curl -fsS "http://127.0.0.1:$port/sitemap.xml" | grep -o '<loc>[^<]*' | sed 's/<loc>//'); do
		curl -fsS "$f" | gunzip | grep -o '<loc>[^<]*' | sed "s#<loc>http://127.0.0.1:$port##"
	done >"$work/all.txt"
	grep '^/salons/' "$work/all.txt" >"$work/salons.txt"
	grep '^/cities/' "$work/all.txt" >"$work/cities.txt"
	echo "== $name: $(wc -l <"$work/salons.txt") salon pages, $(wc -l <"$work/cities.txt") city pages; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
	for kind in salons cities; do
		PATHS_FILE="$work/$kind.txt" wrk -t2 -c32 -d5s -s bench/site/paths.lua "http://127.0.0.1:$port" >/dev/null # warm the cache
		PATHS_FILE="$work/$kind.txt" measure "$name $kind: throughput (2 threads, 32 connections, ${secs}s)" -t2 -c32 -d"${secs}s"
		DELAY_MS=40 PATHS_FILE="$work/$kind.txt" measure "$name $kind: paced, 20 connections each 40 ms apart (at most 500 req/s), ${secs}s" -t2 -c20 -d"${secs}s"
		DELAY_MS=40 PATHS_FILE="$work/$kind.txt" measure "$name $kind: paced, 24 connections each 40 ms apart (at most 600 req/s), ${secs}s" -t2 -c24 -d"${secs}s"
	done
	kill "$pid"
	wait "$pid" 2>/dev/null || true
}

run_one sqlite ""
if [ -n "${ATLAS_BENCH_DATABASE_URL:-}" ]; then
	schema="atlas_bench_site_$$"
	psql "$ATLAS_BENCH_DATABASE_URL" -qc "CREATE SCHEMA $schema"
	sep='?'; case "$ATLAS_BENCH_DATABASE_URL" in *\?*) sep='&';; esac
	run_one postgres "${ATLAS_BENCH_DATABASE_URL}${sep}search_path=$schema" || true
	psql "$ATLAS_BENCH_DATABASE_URL" -qc "SET client_min_messages = warning; DROP SCHEMA $schema CASCADE"
fi
