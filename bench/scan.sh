#!/usr/bin/env bash
# Times `rekey scan` against gitleaks on the same inputs and prints MB/s,
# peak memory and findings for both, and the ratios:
#   1. a directory: the Go source tree, $(go env GOROOT)/src
#   2. git history: a repository of ~3000 commits built from that tree
# gitleaks is installed with `go install` into a temporary GOBIN, never into
# the repository. Set GITLEAKS=/path/to/gitleaks to reuse a binary, and
# REKEY_BENCH_REPO=DIR to reuse a history repository between runs.
set -euo pipefail
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

# run NAME CMD… : runs CMD with stdout to $work/NAME.out, records wall
# seconds and peak RSS (KiB) from GNU time's format.
run() {
  local name=$1; shift
  local start end
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
