#!/usr/bin/env bash
# Tracing fan-out across replicas (issue 16): one leaked secret traced
# through N generated git repositories by `rekey serve` on one PostgreSQL
# store, first with one replica, then with two, each pinned to a core of
# its own (`taskset -c 0`, `taskset -c 1`, which also bounds the git
# processes it starts). POST /api/v1/incidents names the N repositories as
# sources; the script times from that request to the tracing's last source
# (GET /api/v1/incidents/{id} until tracing.pending is 0), and prints the
# throughput in sources per second, the speed-up of two replicas over one
# (goal: at least 1.6x) and whether every copy was found: every repository
# that holds the secret (at its head, or only in its history) has a copy
# among the incident's occurrences, and no other repository has one.
#
# The repositories are small and look like services: a dozen Go, YAML and
# Markdown files over four commits, written by one `git fast-import` each.
# One in ten holds the secret in its config at the head; one in ten held
# it in a commit that a later one removed (history only).
#
# Each replica has its own $REKEY_HOME and shares the keys through
# `rekey serve --keys file:DIR`, as replicas on different machines would.
#
#   bench/scale.sh
#   REKEY_BENCH_N="200 2000"      repositories per run (each N is timed with 1 and 2 replicas)
#   REKEY_BENCH_REPLICAS="1 2"    repeat them (1 2 1 2 1 2) for medians; add 2-kill for a failover run: two replicas, the second
#                                 killed (SIGKILL) once half the sources are done; River
#                                 rescues its jobs after the trace jobs' timeout (1 min)
#   REKEY_BENCH_PG=postgres://postgres@127.0.0.1:5432
#                                 PostgreSQL server (trust auth); a fresh database per run
#                                 is created on it and dropped at the end
#   REKEY=/path/to/rekey          time that binary instead of building one
set -euo pipefail
cd "$(dirname "$0")/.."

ns=${REKEY_BENCH_N:-200 2000}
replicas=${REKEY_BENCH_REPLICAS:-1 2}
pg=${REKEY_BENCH_PG:-postgres://postgres@127.0.0.1:5432}

umask 077
work=$(mktemp -d)
pids=()
pg_db=
stop_replicas() {
  local p
  for p in "${pids[@]}"; do
    kill "$p" 2>/dev/null || true
  done
  for p in "${pids[@]}"; do
    wait "$p" 2>/dev/null || true
  done
  pids=()
}
drop_db() {
  if [ -n "$pg_db" ]; then
    psql "$pg/postgres?sslmode=disable" -qc "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null ||
      echo "bench/scale.sh: could not drop database $pg_db on $pg; drop it by hand" >&2
    pg_db=
  fi
}
cleanup() {
  stop_replicas
  drop_db
  rm -rf "$work"
}
trap cleanup EXIT

for tool in python3 psql git taskset; do
  if ! command -v "$tool" >/dev/null; then
    echo "bench/scale.sh: $tool is needed" >&2
    exit 1
  fi
done

rekey=${REKEY:-}
if [ -z "$rekey" ]; then
  rekey="$work/rekey"
  go build -o "$rekey" ./cmd/rekey
fi

# The leaked secret: random, in a file only this script reads.
python3 -c 'import secrets; print("Pg-" + secrets.token_urlsafe(24), end="")' >"$work/secret"

# make_repos DIR N: N repositories under DIR; prints the ones holding the
# secret (one path a line) to DIR.expected.
make_repos() {
  python3 - "$1" "$2" "$work/secret" <<'PY'
import os, subprocess, sys
from concurrent.futures import ThreadPoolExecutor
root, n, secret = sys.argv[1], int(sys.argv[2]), open(sys.argv[3]).read()
os.makedirs(root, exist_ok=True)
GO = '''package {pkg}

import (
	"context"
	"fmt"
	"net/http"
)

// {name} serves {what}.
func {name}(ctx context.Context, w http.ResponseWriter, r *http.Request) error {{
	id := r.URL.Query().Get("id")
	if id == "" {{
		return fmt.Errorf("{pkg}: no id")
	}}
	_, err := fmt.Fprintf(w, "{what} %s\\n", id)
	return err
}}
'''
def blob(data):
    b = data.encode()
    return b"data %d\n" % len(b) + b + b"\n"
def commit(when, msg, files):
    out = [b"commit refs/heads/main\n", b"committer Dev <dev@example.org> %d +0000\n" % when, blob(msg)]
    for path, data in files.items():
        if data is None:
            out.append(b"D %s\n" % path.encode())
        else:
            out.append(b"M 100644 inline %s\n" % path.encode())
            out.append(blob(data))
    return b"".join(out)
def make(i):
    d = os.path.join(root, "svc-%05d" % i)
    kind = "head" if i % 10 == 0 else "history" if i % 10 == 5 else "clean"
    files = {"README.md": "# svc-%05d\n\nThe %d service.\n" % (i, i),
             "go.mod": "module example.org/svc%05d\n\ngo 1.22\n" % i,
             ".gitignore": "/bin\n*.log\n"}
    for j, what in enumerate(["orders", "users", "billing", "search", "health", "metrics", "admin", "export"]):
        files["internal/%s/%s.go" % (what, what)] = GO.format(pkg=what, name="Serve" + what.title(), what=what)
    cfg = "service: svc-%05d\nport: %d\ndb:\n  host: db.internal\n  user: svc%05d\n" % (i, 8000 + i % 1000, i)
    files["config/app.yml"] = cfg + "  password: ${DB_PASSWORD}\n"
    t = 1700000000 + i * 3600
    stream = [commit(t, "initial import", files)]
    stream.append(commit(t + 60, "docs", {"docs/run.md": "Run with `go run .`\n"}))
    if kind == "history":
        stream.append(commit(t + 120, "config for staging", {"config/app.yml": cfg + "  password: %s\n" % secret}))
        stream.append(commit(t + 180, "take the password out", {"config/app.yml": cfg + "  password: ${DB_PASSWORD}\n"}))
    elif kind == "head":
        stream.append(commit(t + 120, "local config", {"config/app.yml": cfg + "  password: %s\n" % secret}))
    else:
        stream.append(commit(t + 120, "tidy", {".gitignore": "/bin\n*.log\n/tmp\n"}))
    os.makedirs(d)
    git = ["git", "-C", d, "-c", "init.defaultBranch=main"]
    subprocess.run(git + ["init", "-q"], check=True)
    subprocess.run(git + ["fast-import", "--quiet"], input=b"".join(stream), check=True)
    subprocess.run(git + ["checkout", "-q", "-f", "main"], check=True)
    return d if kind != "clean" else None
with ThreadPoolExecutor(4) as ex:
    holders = [d for d in ex.map(make, range(n)) if d]
with open(root + ".expected", "w") as f:
    f.write("".join(h + "\n" for h in holders))
PY
}

# start_replica NAME CORE SPEC: `rekey serve` pinned to CORE with its own
# home and the shared keys; sets $addr to where it listens.
start_replica() {
  local name=$1 core=$2 spec=$3 log="$work/$1.log"
  REKEY_HOME="$work/home-$name" taskset -c "$core" "$rekey" serve --store "$spec" --keys "file:$work/keys" \
    --inventory "$work/rekey.yml" --listen 127.0.0.1:0 2>"$log" >/dev/null &
  pids+=($!)
  addr=
  for _ in $(seq 1 600); do
    if ! kill -0 "${pids[-1]}" 2>/dev/null; then
      echo "bench/scale.sh: replica $name exited:" >&2
      head -n 20 "$log" >&2
      exit 1
    fi
    addr=$(head -n 1 "$log" | sed -n 's/^listening on \(.*\)$/\1/p')
    [ -n "$addr" ] && return 0
    sleep 0.1
  done
  echo "bench/scale.sh: replica $name did not say where it listens within 60 s" >&2
  exit 1
}

printf 'version: 1\n' >"$work/rekey.yml"
mkdir -p "$work/keys"
rows="$work/rows"
: >"$rows"
for n in $ns; do
  repos="$work/repos-$n"
  t0=$(date +%s.%N)
  make_repos "$repos" "$n"
  echo "generated $n repositories ($(wc -l <"$repos.expected") holding the secret) in $(python3 -c "import time; print(round(time.time() - $t0, 1))") s" >&2
  python3 - "$repos" "$n" "$work/secret" >"$work/body-$n.json" <<'PY'
import json, os, sys
root, n = sys.argv[1], int(sys.argv[2])
srcs = [{"type": "git", "path": os.path.join(root, "svc-%05d" % i), "history": True} for i in range(n)]
print(json.dumps({"secret": open(sys.argv[3]).read(), "sources": srcs}))
PY
  for r in $replicas; do
    # A fresh database per run gets fresh keys: the audit witnesses the
    # replicas keep in the keys directory name the last run's log, and a
    # replica refuses to anchor on a log shorter than a witness says.
    rm -rf "$work"/home-* "$work/keys"
    mkdir -p "$work/keys"
    mkdir -p "$work/home-a" "$work/home-b" "$work/home-admin"
    pg_db="rekey_scale_$$_$RANDOM"
    psql "$pg/postgres?sslmode=disable" -v ON_ERROR_STOP=1 -qc "CREATE DATABASE $pg_db" >/dev/null
    spec="$pg/$pg_db?sslmode=disable"
    REKEY_HOME="$work/home-admin" "$rekey" token create --store "$spec" --keys "file:$work/keys" --name bench --role admin --format json |
      python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])' >"$work/token"
    # Each home witnesses the audit log from here on (as a new machine
    # joining a store does): the token's entry was written by another.
    for h in a b; do
      REKEY_HOME="$work/home-$h" "$rekey" audit reanchor --yes --store "$spec" --keys "file:$work/keys" >/dev/null
    done
    start_replica a 0 "$spec"
    first=$addr
    victim=
    if [ "${r%-kill}" -ge 2 ]; then
      start_replica b 1 "$spec"
      [ "$r" != "${r%-kill}" ] && victim=${pids[-1]}
    fi
    # One client process opens the incident, polls its tracing and checks
    # the copies (a curl and a python per poll would take a core's share
    # from the replicas). The token is read from its file.
    python3 - "http://$first" "$work/token" "$work/body-$n.json" "$work/result.json" "$victim" <<'PY'
import json, os, signal, sys, time, urllib.request
url, tokfile, body, out, victim = sys.argv[1:]
killed = None
hdr = {"Authorization": "Bearer " + open(tokfile).read().strip(), "Content-Type": "application/json"}
def call(method, path, data=None):
    req = urllib.request.Request(url + path, data=data, headers=hdr, method=method)
    try:
        with urllib.request.urlopen(req, timeout=600) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, e.read()[:500]
t0 = time.time()
code, v = call("POST", "/api/v1/incidents", open(body, "rb").read())
topen = time.time()
if code != 201:
    sys.exit("bench/scale.sh: POST /api/v1/incidents: %s %s" % (code, v))
while True:
    code, det = call("GET", "/api/v1/incidents/" + v["id"])
    if code != 200:
        sys.exit("bench/scale.sh: GET the incident: %s %s" % (code, det))
    tr = det["tracing"]
    if tr["pending"] == 0:
        break
    if victim and killed is None and tr["done"] * 2 >= tr["done"] + tr["pending"]:
        os.kill(int(victim), signal.SIGKILL)
        killed = {"at": time.time() - t0, "done": tr["done"]}
    time.sleep(0.25)
t1 = time.time()
if killed:
    killed["after"] = t1 - t0 - killed["at"]
code, scope = call("GET", "/api/v1/incidents/%s/scope" % v["id"])
json.dump({"open": topen - t0, "total": t1 - t0, "tracing": det["tracing"], "killed": killed, "paths": [o["path"] for o in scope["occurrences"]]}, open(out, "w"))
PY
    # Which replica traced how many sources: the River jobs' attempted_by.
    split=$(psql "$spec" -Atc "SELECT string_agg(n::text, '/' ORDER BY n DESC) FROM (SELECT count(*) AS n FROM rekey_river.river_job WHERE kind = 'rekey.trace' GROUP BY attempted_by[1]) s")
    python3 - "$n" "$r" "$repos" "$work/result.json" "${split:-?}" >>"$rows" <<'PY'
import json, sys
n, r, repos, result, split = sys.argv[1:]
n, res = int(n), json.load(open(result))
expected = set(l.strip() for l in open(repos + ".expected") if l.strip())
tr = res["tracing"]
found = set()
for p in res["paths"]:
    if p.startswith(repos + "/"):
        found.add(repos + "/" + p[len(repos) + 1:].split("/")[0])
ok = "yes" if found == expected and tr["failed"] == 0 else "NO (%d of %d repositories, %d extra, %d failed)" % (len(found & expected), len(expected), len(found - expected), tr["failed"])
if res["killed"]:
    k = res["killed"]
    ok += "; b killed at %.1f s (%d done), finished %.1f s later" % (k["at"], k["done"], k["after"])
print("%d\t%s\t%.2f\t%.1f\t%.1f\t%d\t%s\t%s" % (n, r, res["open"], res["total"], n / res["total"], tr["copies"], split, ok))
PY
    stop_replicas
    drop_db
  done
done

echo "tracing one secret through N git repositories (history and work tree), rekey serve on PostgreSQL, each replica on one core"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min) on $(nproc) cores"
printf '%-6s %-8s %-8s %-8s %-10s %-7s %-12s %s\n' N replicas open_s total_s sources/s copies "jobs a/b" "all found"
python3 - "$rows" <<'PY'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
tput = {}
for n, r, opened, total, rate, copies, split, ok in rows:
    print("%-6s %-8s %-8s %-8s %-10s %-7s %-12s %s" % (n, r, opened, total, rate, copies, split, ok))
    tput.setdefault((n, r), []).append(float(rate))
# Runs repeated (REKEY_BENCH_REPLICAS="1 2 1 2 1 2") are summed up by
# their median: the machine's load moves single runs a lot.
for (n, r), rates in sorted(tput.items()):
    if r == "2" and (n, "1") in tput:
        one, two = statistics.median(tput[(n, "1")]), statistics.median(rates)
        print("N=%s: 2 replicas %.2fx one (median of %d and %d runs: %.1f and %.1f sources/s; goal >= 1.6x)" % (n, two / one, len(rates), len(tput[(n, "1")]), two, one))
PY
