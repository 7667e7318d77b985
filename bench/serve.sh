#!/usr/bin/env bash
# API latency of `rekey serve`: 50 concurrent clients read
# GET /api/v1/incidents/{id} and GET /api/v1/incidents/{id}/scope over 1,000
# incidents, once on SQLite and once on PostgreSQL, and the script prints
# p50/p90/p99/max and requests per second for each endpoint and store. The
# goal (issue 11) is p99 under 50 ms on this machine. GET /api/v1/health is
# timed first as a floor (no store, no token check): what HTTP and the
# machine's load cost before the store does anything.
#
# The incidents are written through the store API by bench/cmd/apiload
# (each one as `incident open` leaves it: copies, an identity with
# privileges and sessions, consumers, 50 usage events, an audit entry);
# the server reads them with a viewer token made by `rekey token create`
# (with the admin token a shared store's first token must be).
# Each client keeps one connection and sends its next request as soon as
# the last is answered; every endpoint gets a warm-up before it is timed.
#
# There is no peer tool to compare with: the numbers stand on their own.
#
#   bench/serve.sh
#   REKEY_BENCH_INCIDENTS=1000    incidents per store
#   REKEY_BENCH_CLIENTS=50        concurrent clients
#   REKEY_BENCH_DURATION=10s      measured time per endpoint (and REKEY_BENCH_WARMUP=2s before it)
#   REKEY_BENCH_STORES="sqlite postgres"
#   REKEY_BENCH_PG=postgres://postgres@127.0.0.1:5432
#                                 PostgreSQL server (trust auth); a fresh database is
#                                 created on it and dropped at the end
#   REKEY=/path/to/rekey          time that binary instead of building one
set -euo pipefail
cd "$(dirname "$0")/.."

incidents=${REKEY_BENCH_INCIDENTS:-1000}
clients=${REKEY_BENCH_CLIENTS:-50}
duration=${REKEY_BENCH_DURATION:-10s}
warmup=${REKEY_BENCH_WARMUP:-2s}
stores=${REKEY_BENCH_STORES:-sqlite postgres}
pg=${REKEY_BENCH_PG:-postgres://postgres@127.0.0.1:5432}

umask 077
work=$(mktemp -d)
serve_pid=
pg_db=
cleanup() {
  if [ -n "$serve_pid" ]; then
    kill "$serve_pid" 2>/dev/null || true
    wait "$serve_pid" 2>/dev/null || true
  fi
  if [ -n "$pg_db" ]; then
    psql "$pg/postgres?sslmode=disable" -qc "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null ||
      echo "bench/serve.sh: could not drop database $pg_db on $pg; drop it by hand" >&2
  fi
  rm -rf "$work"
}
trap cleanup EXIT

for tool in python3 $( [[ " $stores " == *" postgres "* ]] && echo psql ); do
  if ! command -v "$tool" >/dev/null; then
    echo "bench/serve.sh: $tool is needed" >&2
    exit 1
  fi
done

rekey=${REKEY:-}
if [ -z "$rekey" ]; then
  rekey="$work/rekey"
  go build -o "$rekey" ./cmd/rekey
fi
apiload="$work/apiload"
go build -o "$apiload" ./bench/cmd/apiload

# start_server SPEC LOG: starts `rekey serve` on a free port and sets
# $serve_pid and $addr from the first stderr line ("listening on HOST:PORT").
start_server() {
  local spec=$1 log=$2
  "$rekey" serve --store "$spec" --listen 127.0.0.1:0 2>"$log" >/dev/null &
  serve_pid=$!
  addr=
  for _ in $(seq 1 300); do
    if ! kill -0 "$serve_pid" 2>/dev/null; then
      echo "bench/serve.sh: rekey serve exited:" >&2
      head -n 20 "$log" >&2
      exit 1
    fi
    addr=$(head -n 1 "$log" | sed -n 's/^listening on \(.*\)$/\1/p')
    [ -n "$addr" ] && return 0
    sleep 0.1
  done
  echo "bench/serve.sh: rekey serve did not say where it listens within 30 s" >&2
  exit 1
}

rows="$work/rows"
: >"$rows"
for kind in $stores; do
  export REKEY_HOME="$work/home-$kind"
  mkdir -p "$REKEY_HOME"
  case $kind in
    sqlite) spec="$REKEY_HOME/rekey.db" ;;
    postgres)
      pg_db="rekey_bench_$$_$RANDOM"
      psql "$pg/postgres?sslmode=disable" -v ON_ERROR_STOP=1 -qc "CREATE DATABASE $pg_db" >/dev/null
      spec="$pg/$pg_db?sslmode=disable"
      ;;
    *) echo "bench/serve.sh: unknown store $kind (want sqlite or postgres)" >&2; exit 1 ;;
  esac
  echo "$kind: $("$apiload" seed --store "$spec" --incidents "$incidents" --ids "$work/ids-$kind")" >&2
  # Tokens go from `token create` to 0600 files through a pipe, never
  # through an argument or the terminal. A shared store's first token must
  # be an admin's, which then makes the viewer token the clients read with.
  "$rekey" token create --store "$spec" --name "bench-admin" --role admin --format json |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])' >"$work/admin-$kind"
  "$rekey" token create --store "$spec" --token-file "$work/admin-$kind" --name "bench-$kind" --role viewer --format json |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])' >"$work/token-$kind"
  start_server "$spec" "$work/serve-$kind.log"
  "$apiload" load --url "http://$addr" --token-file "$work/token-$kind" --ids "$work/ids-$kind" \
    --clients "$clients" --duration "$duration" --warmup "$warmup" --label "$kind" >>"$rows"
  kill "$serve_pid"
  wait "$serve_pid" 2>/dev/null || true
  serve_pid=
  if [ "$kind" = postgres ]; then
    psql "$pg/postgres?sslmode=disable" -qc "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null
    pg_db=
  fi
done

echo "rekey serve: $clients concurrent clients, $incidents incidents per store, $duration per endpoint after $warmup of warm-up"
"$apiload" header
cat "$rows"
awk '$3 ~ /incidents/ { if ($8 + 0 > worst) worst = $8 + 0 }
  END { printf "goal p99 < 50 ms: %s (worst p99 %.2f ms)\n", (worst < 50 ? "met" : "NOT met"), worst }' "$rows"
