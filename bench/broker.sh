#!/usr/bin/env bash
# The broker's issuance rate and latency, and the reaper's lag, on the
# services the tests use (a password-auth PostgreSQL cluster the benchmark
# starts itself, MariaDB and Redis on their usual ports):
#
#   - http:     POST /broker/v1/credentials end to end (token signature,
#               default policy, PostgreSQL login, lease row, audit entry),
#               20 concurrent clients;
#   - postgres: broker.Leases.Issue, 20 goroutines, the store on SQLite and
#               on PostgreSQL;
#   - mariadb, redis: the same on those systems (store on SQLite);
#               each of these then revokes its leases in one call, as
#               `rekey leases revoke --role` does (revokes/s);
#   - reaper:   how long after its expiry each 2 s lease is ended.
#
# Every lease is audited as in production (SQLite: a commit, an fsync, and
# the witness file per batch of appends). Goals on this machine: PostgreSQL
# >= 200 leases/s with p99 <= 100 ms, Redis >= 2,000/s, reaper lag <= 2 s.
#
#   bench/broker.sh [LEASES]     (default 300 per benchmark)
#
# REKEY_BENCH_CLIENTS=1 makes the MariaDB and Redis benchmarks issue one
# lease at a time: under strace -c -f -e fsync it counts the fsyncs on one
# issue's path, which grouping hides at 20 clients.
#
# There is no peer to compare with: Vault's database engine is the nearest
# tool and cannot run here; the numbers stand on their own.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-300}
export REKEY_HOME=${REKEY_HOME:-$(mktemp -d)}
run() { go test -run '^$' -bench "$1" -benchtime "${n}x" -count 1 "$2" | grep '^Benchmark'; }
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
run 'BenchmarkCredentials$' ./internal/broker/api/
run 'BenchmarkLeaseIssue$' ./internal/broker/
run 'BenchmarkLeaseIssueSystems$' ./internal/broker/
go test -run '^$' -bench 'BenchmarkReaperLag$' -benchtime 50x -count 1 ./internal/broker/ | grep '^Benchmark'
