#!/usr/bin/env bash
# Times `rekey scan` against gitleaks on the same inputs and prints MB/s,
# peak memory and findings for both, and the ratios:
#   1. a directory: the Go source tree, $(go env GOROOT)/src
#   2. git history: a repository of ~3000 commits built from that tree
# gitleaks is installed with `go install` into a temporary GOBIN, never into
# the repository. Set GITLEAKS=/path/to/gitleaks to reuse a binary, and
# REKEY_BENCH_REPO=DIR to reuse a history repository between runs.
#
#   bench/scan.sh history REPO [RUNS]
# times only `rekey scan --history REPO` against `gitleaks git REPO` on a
# real repository's history (docs/performance.md uses tmux/tmux), RUNS times
# each (default 3), alternating, and prints every run, the medians and their
# ratio. With REKEY_BASELINE=/path/to/an/older/rekey it runs that build too
# and diffs the (fingerprint, path, commit, at_head) sets of the two.
set -euo pipefail
if [ "${1:-}" = history ] && [ -n "${2:-}" ]; then
  set -- "$1" "$(cd "$2" && pwd)" "${@:3}" # the script runs from the repository's top
fi
cd "$(dirname "$0")/.."

GITLEAKS_VERSION=v8.30.1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ -z "${GITLEAKS:-}" ]; then
  echo "installing gitleaks $GITLEAKS_VERSION into $work/bin" >&2
  GOBIN="$work/bin" GOFLAGS=-mod=mod go install "github.com/zricethezav/gitleaks/v8@$GITLEAKS_VERSION"
  GITLEAKS="$work/bin/gitleaks"
fi
go build -trimpath -o "$work/rekey" ./cmd/rekey
export REKEY_HOME="$work/home"

# uncache FILE: drops FILE from the page cache. Peak RSS counts the pages
# of the executable mapped into the process, and how many a fault maps
# depends on how the file sits in the cache (one just written by go build
# maps in large folios: 82 MB of rekey's binary against 46 MB once evicted,
# docs/performance.md), so every run starts its binary from the same state.
uncache() {
  sync "$1" 2>/dev/null || true
  python3 -c 'import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)' "$1" 2>/dev/null || true
}

# run NAME CMD… : runs CMD with stdout to $work/NAME.out, records wall
# seconds and peak RSS (KiB) from GNU time's format.
run() {
  local name=$1; shift
  local start end
  uncache "$1"
  start=$(date +%s.%N)
  /usr/bin/time -f "%M" -o "$work/$name.rss" "$@" >"$work/$name.out" 2>"$work/$name.err" || true
  end=$(date +%s.%N)
  echo "$end - $start" | bc -l >"$work/$name.sec"
}

mb() { du -sb --apparent-size "$1" | awk '{printf "%.1f", $1/1e6}'; }

report() { # label bytesMB rekey-name gitleaks-name rekey-count gitleaks-count
  local label=$1 size=$2 r=$3 g=$4 rc=$5 gc=$6
  local rs gs rr gr
  rs=$(cat "$work/$r.sec"); gs=$(cat "$work/$g.sec")
  # GNU time writes "Command exited with non-zero status 1" first when the
  # tool reports findings; the figure is on the last line.
  rr=$(tail -n1 "$work/$r.rss"); gr=$(tail -n1 "$work/$g.rss")
  printf '%s (%s MB)\n' "$label" "$size"
  printf '  %-9s %7.2f s  %8.1f MB/s  peak %6.0f MB  findings %s\n' rekey "$rs" "$(echo "$size / $rs" | bc -l)" "$(echo "$rr / 1024" | bc -l)" "$rc"
  printf '  %-9s %7.2f s  %8.1f MB/s  peak %6.0f MB  findings %s\n' gitleaks "$gs" "$(echo "$size / $gs" | bc -l)" "$(echo "$gr / 1024" | bc -l)" "$gc"
  printf '  speed ratio rekey/gitleaks: %.1fx, memory ratio: %.2f\n' "$(echo "$gs / $rs" | bc -l)" "$(echo "$rr / $gr" | bc -l)"
}

# recall: how many of gitleaks' (file, line) places rekey also reports, and
# what each tool reports alone, by rule, so a difference can be read.
recall() { # rekey-jsonl gitleaks-json strip-prefix
  python3 - "$1" "$2" "$3" <<'PY'
import json, sys, os, collections
rk, gl, prefix = sys.argv[1:]
def rel(p):
    return os.path.relpath(p, prefix) if prefix and os.path.isabs(p) else p
mine = {}
for line in open(rk):
    f = json.loads(line)
    mine[(rel(f["path"]), f["line"])] = f["rule"]
theirs = {}
for g in (json.load(open(gl)) if os.path.getsize(gl) else []):
    theirs[(rel(g["File"]), g["StartLine"])] = g["RuleID"]
both = set(theirs) & set(mine)
print(f"  places: {len(both)} reported by both, {len(set(theirs) - set(mine))} by gitleaks only, {len(set(mine) - set(theirs))} by rekey only")
for name, only in (("gitleaks only", {k: theirs[k] for k in set(theirs) - set(mine)}), ("rekey only", {k: mine[k] for k in set(mine) - set(theirs)})):
    if only:
        counts = collections.Counter(only.values()).most_common()
        print(f"  {name} by rule: " + ", ".join(f"{r} {n}" for r, n in counts))
        for k in sorted(only)[:5]:
            print(f"    {k[0]}:{k[1]} ({only[k]})")
PY
}

# history REPO RUNS: the real-repository history comparison.
history() {
  local repo=$1 runs=$2 i t
  local commits
  commits=$(git -C "$repo" rev-list --all | wc -l)
  echo "== history of $repo ($commits commits, HEAD $(git -C "$repo" rev-parse HEAD))"
  local tools=(rekey gitleaks)
  if [ -n "${REKEY_BASELINE:-}" ]; then
    tools+=(baseline)
    # One installation key for both builds, so that their fingerprints
    # compare (without one, each scan fingerprints with a key of its own).
    mkdir -p -m 700 "$REKEY_HOME"
    (umask 077 && head -c 32 /dev/urandom >"$REKEY_HOME/installation.key")
  fi
  for i in $(seq "$runs"); do
    for t in "${tools[@]}"; do
      case $t in
      rekey) run "$t-$i" "$work/rekey" scan --history --format json "$repo" ;;
      baseline) run "$t-$i" "$REKEY_BASELINE" scan --history --format json "$repo" ;;
      gitleaks) run "$t-$i" "$GITLEAKS" git --no-banner --log-level error --report-format json --report-path "$work/$t-$i.json" "$repo" ;;
      esac
      local n
      if [ "$t" = gitleaks ]; then
        n=$(python3 -c 'import json,sys;print(len(json.load(open(sys.argv[1]))))' "$work/$t-$i.json")
      else
        n=$(wc -l <"$work/$t-$i.out")
      fi
      printf '  run %d %-9s %7.2f s  peak %5.0f MiB  findings %s\n' "$i" "$t" "$(cat "$work/$t-$i.sec")" "$(echo "$(tail -n1 "$work/$t-$i.rss") / 1024" | bc -l)" "$n"
    done
  done
  python3 - "$work" "$runs" "${tools[@]}" <<'PY'
import json, statistics, sys
work, runs, tools = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
def med(t, ext):
    vals = []
    for i in range(1, runs + 1):
        raw = open(f"{work}/{t}-{i}.{ext}").read().split()
        vals.append(float(raw[-1]))
    return statistics.median(vals)
sec = {t: med(t, "sec") for t in tools}
rss = {t: med(t, "rss") / 1024 for t in tools}
for t in tools:
    print(f"  median {t:9s} {sec[t]:7.2f} s  peak {rss[t]:5.0f} MiB")
print(f"  speed ratio rekey/gitleaks: {sec['gitleaks'] / sec['rekey']:.1f}x, memory ratio: {rss['rekey'] / rss['gitleaks']:.2f}")
if "baseline" in tools:
    print(f"  speed ratio baseline/gitleaks: {sec['gitleaks'] / sec['baseline']:.1f}x, rekey is {sec['baseline'] / sec['rekey']:.1f}x faster than the baseline")
    def copies(t):
        return {(f["fingerprint"], f["path"], f["commit"], f["at_head"]) for f in map(json.loads, open(f"{work}/{t}-1.out"))}
    a, b = copies("baseline"), copies("rekey")
    print(f"  copies: baseline {len(a)}, rekey {len(b)}, only baseline {len(a - b)}, only rekey {len(b - a)}")
    for c in sorted(a ^ b)[:10]:
        print("    ", "only baseline" if c in a else "only rekey", c[1], c[2][:12], "at_head" if c[3] else "")
PY
}

if [ "${1:-}" = history ]; then
  [ -n "${2:-}" ] || { echo "usage: bench/scan.sh history REPO [RUNS]" >&2; exit 2; }
  history "$2" "${3:-3}"
  exit 0
fi

src="$(go env GOROOT)/src"
size=$(mb "$src")
echo "== directory: $src" >&2
run rekey-dir "$work/rekey" scan --format json "$src"
run gitleaks-dir "$GITLEAKS" dir --no-banner --log-level error --report-format json --report-path "$work/gitleaks-dir.json" "$src"
report "directory scan of $src" "$size" rekey-dir gitleaks-dir "$(wc -l <"$work/rekey-dir.out")" "$(python3 -c 'import json,sys;print(len(json.load(open(sys.argv[1]))))' "$work/gitleaks-dir.json")"
recall "$work/rekey-dir.out" "$work/gitleaks-dir.json" "$src"

repo=${REKEY_BENCH_REPO:-$work/history}
if [ ! -d "$repo/.git" ] && [ ! -f "$repo/HEAD" ]; then
  echo "== building a history repository in $repo" >&2
  REKEY_BENCH_MKREPO="$repo" go test -count=1 -run TestMakeHistoryRepo -v ./bench >&2
fi
commits=$(git -C "$repo" rev-list --all | wc -l)
hsize=$(git -C "$repo" rev-list --objects --all | cut -d' ' -f1 | git -C "$repo" cat-file --batch-check='%(objecttype) %(objectsize)' | awk '$1=="blob"{s+=$2} END{printf "%.1f", s/1e6}')
echo "== history: $repo ($commits commits, $hsize MB of distinct blobs)" >&2
run rekey-git "$work/rekey" scan --history --format json "$repo"
run gitleaks-git "$GITLEAKS" git --no-banner --log-level error --report-format json --report-path "$work/gitleaks-git.json" "$repo"
report "history scan of $commits commits (size = distinct blob bytes)" "$hsize" rekey-git gitleaks-git "$(wc -l <"$work/rekey-git.out")" "$(python3 -c 'import json,sys;print(len(json.load(open(sys.argv[1]))))' "$work/gitleaks-git.json")"
recall "$work/rekey-git.out" "$work/gitleaks-git.json" "$repo"
