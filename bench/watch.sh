#!/usr/bin/env bash
# Watch: how fast `rekey watch` acts, and how much it can follow.
#
#   bench/watch.sh [TRIALS]     (default 20)
#
# Latency: a password-auth PostgreSQL cluster the benchmark starts itself,
# one `rekey watch` following its csv log, and per trial an attacker who
# logs in with a role's password and runs a sensitive statement
# (sensitive-action is in watch.auto_contain). From the statement's return
# (its log record is written then) to (a) the incident opened by watch and
# (b) the attacker's session ended by the emergency plan; p50 and p95.
# Goal: (b) <= 2 s at p95.
#
# Throughput: records per CPU-second followed on one core (read, cut at
# records, parse, hand over, one offset write per 4 MiB) while the
# benchmark appends PostgreSQL csv and CloudTrail records. Goal: >= 100,000.
# Then the whole watcher on one core (follow by inotify, parse, judge each
# event against its stored baseline, act) while a generator appends both
# formats to two followed files at once, until all is consumed.
set -euo pipefail
cd "$(dirname "$0")/.."
trials=${1:-20}
go test -run '^$' -bench 'BenchmarkWatchContain' -benchtime "${trials}x" -count 1 ./internal/cli/ |
  awk '/^BenchmarkWatchContain/ {
    for (i = 1; i <= NF; i++) m[$(i+1)] = $i
    printf "trials: %s\nfirst record -> incident opened: p50 %s ms, p95 %s ms\nfirst record -> attacker session ended: p50 %s ms, p95 %s ms (goal <= 2000 ms at p95)\n",
      $2, m["ms-to-incident-p50"], m["ms-to-incident-p95"], m["ms-to-cutoff-p50"], m["ms-to-cutoff-p95"]
  }'
go test -run '^$' -bench 'BenchmarkFollow' -cpu 1 -count 1 ./internal/watch/follow/ |
  awk '/^BenchmarkFollow/ {
    for (i = 1; i <= NF; i++) if ($(i+1) ~ /records\/cpu-s|records\/s/) printf "%s %s %s\n", $1, $i, $(i+1)
  }'
go test -run '^$' -bench 'BenchmarkWatcherSustained' -cpu 1 -count 1 ./internal/watch/watcher/ |
  awk '/^BenchmarkWatcherSustained/ {
    for (i = 1; i <= NF; i++) if ($(i+1) ~ /records\/cpu-s|records\/s/) printf "%s %s %s\n", $1, $i, $(i+1)
  }'
