#!/usr/bin/env bash
# Time to contain: how long an emergency run takes, from its start, until
# a fresh login with the leaked password is refused, on a password-auth
# PostgreSQL cluster the benchmark starts itself (initdb + pg_ctl, as the
# tests do), with two consumer workloads running. Also prints how long the
# slower consumer could not work (emergency revokes first; consumers
# recover when their own login arrives). The target is under one second.
#
#   bench/contain.sh [RUNS]     (default 10)
#
# There is no peer tool to compare with here: no other tool rotates a
# database credential end to end; the number stands on its own.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}
go test -run '^$' -bench 'BenchmarkEmergencyContain' -benchtime "${runs}x" -count 1 ./internal/engine/ |
  awk '/^Benchmark/ {
    for (i = 1; i <= NF; i++) {
      if ($(i+1) == "ms-to-contain") c = $i
      if ($(i+1) == "ms-consumer-outage") o = $i
    }
    printf "runs: %s\ntime to contain (start -> leaked password refused): %s ms (target < 1000 ms)\nlongest consumer outage: %s ms\n", $2, c, o
  }'
