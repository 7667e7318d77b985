#!/usr/bin/env bash
# Failover of a run between `rekey serve` replicas on one PostgreSQL store:
# the time from a replica's SIGKILL to the run's job being worked again on
# the other replica (River's attempted_at of the next attempt), as measured
# by TestServeReplicasFinishARunWhoseReplicaDied: killed at a step boundary
# (a failpoint) and mid-step (during a consumer's health check). Each
# round also checks the run finishes with no duplicate or orphaned login
# and the audit chain verifies. Goal: <= 10 s.
#
#   bench/failover.sh [ROUNDS]     (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-5}
export REKEY_HOME=${REKEY_HOME:-$(mktemp -d)}
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
go test -count "$n" -v -run '^TestServeReplicasFinishARunWhoseReplicaDied$' ./internal/cli/ |
	awk '/^=== RUN .*\/(step-boundary|mid-step)$/ { split($3, p, "/"); kind = p[2] }
		/failover: / { v = $(NF-3); unit = v; sub(/[0-9.]+/, "", unit); sub(/[a-zµ]+$/, "", v)
			s = (unit == "ms") ? v / 1000 : v; print kind, s " s"; sum[kind] += s; cnt[kind]++
			if (!(kind in max) || s > max[kind]) max[kind] = s }
		/^(FAIL|ok)/ { print }
		END { for (k in cnt) printf "%s: mean %.2f s, max %.2f s over %d rounds\n", k, sum[k] / cnt[k], max[k], cnt[k] }'
