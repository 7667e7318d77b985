#!/usr/bin/env bash
# Times `rekey review` against jq on the same CloudTrail trail and prints
# both times, the ratio, records/s, peak memory, and whether both tools
# count the same events for the key under review.
#
# The trail is generated (bench/mkcloudtrail_test.go): about
# REKEY_BENCH_CLOUDTRAIL_MB megabytes of JSON (1150 by default) delivered as
# CloudTrail writes it to S3, gzipped, five-minute files per region over
# 36 days, a few hundred principals with daily patterns, and one deploy key
# that leaks and is abused. jq runs the selection a responder would write by
# hand: every record whose userIdentity.accessKeyId is the key, grouped by
# sourceIPAddress and service:eventName, counted.
#
#   REKEY_BENCH_CLOUDTRAIL=DIR  generate into DIR, or reuse the trail there;
#                               never removed (default: a temporary
#                               directory, removed at the end)
#   REKEY_BENCH_KEEP=1          keep the temporary trail and say where
#   REKEY_BENCH_CLOUDTRAIL_MB   size of the trail in MB of JSON
#   REKEY_BENCH_JQ_ONE_CORE=0   skip timing jq on one core
#   REKEY=/path/to/rekey        time that binary instead of building one
set -euo pipefail
cd "$(dirname "$0")/.."

mb=${REKEY_BENCH_CLOUDTRAIL_MB:-1150}
work=$(mktemp -d)
trail=${REKEY_BENCH_CLOUDTRAIL:-}
own_trail=0
if [ -z "$trail" ]; then
  trail="$work/trail"
  own_trail=1
fi
cleanup() {
  if [ "$own_trail" = 1 ] && [ "${REKEY_BENCH_KEEP:-}" = 1 ] && [ -d "$trail" ]; then
    keep=$(mktemp -d "${TMPDIR:-/tmp}/rekey-trail.XXXXXX")
    mv "$trail" "$keep/" && echo "kept the trail in $keep/trail (REKEY_BENCH_CLOUDTRAIL=$keep/trail reuses it)" >&2
  fi
  rm -rf "$work"
}
trap cleanup EXIT

if ! command -v jq >/dev/null; then
  echo "bench/review.sh: jq is not installed; install it (Debian/Ubuntu: sudo apt-get install -y jq; macOS: brew install jq) and run again" >&2
  exit 1
fi
if ! command -v python3 >/dev/null; then
  echo "bench/review.sh: python3 is needed to compare the counts" >&2
  exit 1
fi

if [ ! -f "$trail/manifest.json" ]; then
  # The generator's JSON gzips 5.5:1 at 1 GB (3.5:1 for small trails,
  # whose files are short): ask for 30 % of it free, and 100 MB more.
  need=$(( mb * 30 / 100 + 100 ))
  probe=$trail
  while [ ! -d "$probe" ]; do probe=$(dirname "$probe"); done
  avail=$(df -Pm "$probe" | awk 'NR==2 {print $4}')
  if [ "$avail" -lt "$need" ]; then
    echo "bench/review.sh: not enough disk: a ${mb} MB trail needs about ${need} MB free in $probe (gzipped), and only ${avail} MB are free." >&2
    echo "  Set REKEY_BENCH_CLOUDTRAIL=DIR on a larger disk, or REKEY_BENCH_CLOUDTRAIL_MB lower." >&2
    exit 1
  fi
  echo "== generating a ${mb} MB CloudTrail trail in $trail (${avail} MB free there, about ${need} MB needed)" >&2
  mkdir -p "$trail"
  REKEY_BENCH_MKCLOUDTRAIL="$trail" REKEY_BENCH_CLOUDTRAIL_MB="$mb" go test -count=1 -timeout 2h -run '^TestMakeCloudTrail$' -v ./bench >&2
fi
rekey=${REKEY:-$work/rekey}
[ -n "${REKEY:-}" ] || go build -trimpath -o "$rekey" ./cmd/rekey
export REKEY_HOME="$work/home"

m() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$trail/manifest.json" "$1"; }
key=$(m key); leaked=$(m leaked_at); rotated=$(m rotated_at)
records=$(m records); bytes=$(m bytes); gz=$(m compressed_bytes); files=$(m files)
size=$(echo "$bytes / 1000000" | bc -l)

# Read every file once so both tools start from a warm page cache.
find "$trail/AWSLogs" -name '*.json.gz' -print0 | xargs -0 cat >/dev/null

cat >"$work/select.jq" <<'JQ'
[inputs | .Records[] | select(.userIdentity.accessKeyId == $key)
  | {source: .sourceIPAddress, action: ((.eventSource | split(".")[0]) + ":" + .eventName)}]
| group_by(.source, .action)
| map({source: .[0].source, action: .[0].action, count: length})
JQ
jqsel() { # DIR KEY PROGRAM: decompress every file (in path order) into one jq
  set -o pipefail
  find "$1/AWSLogs" -name '*.json.gz' -print0 | sort -z | xargs -0 zcat | jq -n --arg key "$2" -f "$3"
}
export -f jqsel

# run NAME CMD… : runs CMD with stdout to $work/NAME.out and records wall
# seconds, peak RSS (KiB) and CPU seconds from GNU time. For a pipeline
# the RSS is that of its largest process.
have_time=0
[ -x /usr/bin/time ] && have_time=1
run() {
  local name=$1; shift
  echo "== $name" >&2
  local start end
  start=$(date +%s.%N)
  if [ "$have_time" = 1 ]; then
    /usr/bin/time -f "%M %U %S" -o "$work/$name.time" "$@" >"$work/$name.out" 2>"$work/$name.err" || { cat "$work/$name.err" >&2; exit 1; }
  else
    "$@" >"$work/$name.out" 2>"$work/$name.err" || { cat "$work/$name.err" >&2; exit 1; }
    echo "0 0 0" >"$work/$name.time"
  fi
  end=$(date +%s.%N)
  echo "$end - $start" | bc -l >"$work/$name.sec"
}

one_core=()
if command -v taskset >/dev/null; then one_core=(taskset -c 0); fi
review=(review --logs "$trail/AWSLogs/**/*.json.gz" --credential "$key" --leaked-at "$leaked" --rotated-at "$rotated" --format json)

run rekey "$rekey" "${review[@]}"
run rekey-1core "${one_core[@]}" env GOMAXPROCS=1 "$rekey" "${review[@]}"
# The floors: rekey reading the trail once for a key that is not in it
# (decompression, record spans and the prefilter), and decompression alone.
absent=(review --logs "$trail/AWSLogs/**/*.json.gz" --credential AKIAZZZZZZZZZZZZZZZZ --leaked-at "$leaked" --format json)
run rekey-1pass "${one_core[@]}" env GOMAXPROCS=1 "$rekey" "${absent[@]}"
run zcat-1core "${one_core[@]}" bash -c 'find "$1/AWSLogs" -name "*.json.gz" -print0 | sort -z | xargs -0 zcat | wc -c' _ "$trail"
run jq bash -c 'jqsel "$@"' _ "$trail" "$key" "$work/select.jq"
if [ "${REKEY_BENCH_JQ_ONE_CORE:-1}" != 0 ]; then
  run jq-1core "${one_core[@]}" bash -c 'jqsel "$@"' _ "$trail" "$key" "$work/select.jq"
fi

line() { # label name
  local s r u sy
  s=$(cat "$work/$2.sec")
  read -r r u sy < <(tail -n1 "$work/$2.time")
  printf '  %-14s %8.2f s  %10.0f records/s  %7.1f MB/s  cpu %7.2f s  peak %6.0f MB\n' "$1" "$s" \
    "$(echo "$records / $s" | bc -l)" "$(echo "$size / $s" | bc -l)" "$(echo "$u + $sy" | bc -l)" "$(echo "$r / 1024" | bc -l)"
}
ratio() { echo "$(cat "$work/$1.sec") / $(cat "$work/$2.sec")" | bc -l; }

printf 'trail: %s files, %s records, %.1f MB of JSON (%.1f MB gzipped); key %s\n' "$files" "$records" "$size" "$(echo "$gz / 1000000" | bc -l)" "$key"
printf 'machine: %s cores, load average %s\n' "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
line rekey rekey
line "rekey, 1 core" rekey-1core
line "  1 pass" rekey-1pass
line "zcat, 1 core" zcat-1core
line jq jq
[ -f "$work/jq-1core.sec" ] && line "jq, 1 core" jq-1core
printf '  speed ratio jq/rekey: %.1fx' "$(ratio jq rekey)"
printf ', one core each: %.1fx' "$(ratio "$([ -f "$work/jq-1core.sec" ] && echo jq-1core || echo jq)" rekey-1core)"
printf ', rekey on one core against jq unrestricted: %.1fx\n' "$(ratio jq rekey-1core)"
echo "  (\"1 pass\" is rekey on one core for a key absent from the trail: one read, nothing to follow; zcat is jq's decompression alone)"

# Both tools must count the same events for the key, per source and per
# action; the generator's own tally is the third opinion.
python3 - "$work/rekey.out" "$work/jq.out" "$trail/manifest.json" "$work/rekey-1core.out" <<'PY'
import json, sys, collections
rk, jq, man = (json.load(open(p)) for p in sys.argv[1:4])
one = json.load(open(sys.argv[4]))
ok = True
def say(good, text):
    global ok
    ok = ok and good
    print(("  ok    " if good else "  DIFF  ") + text)

jsrc, jact = collections.Counter(), collections.Counter()
for g in jq:
    jsrc[g["source"]] += g["count"]
    jact[g["action"]] += g["count"]
msrc, mact = collections.Counter(), collections.Counter()
for k, n in man["by_source_action"].items():
    s, a = k.split("\t")
    msrc[s] += n
    mact[a] += n
jtotal = sum(jsrc.values())
say(rk["events"] == jtotal == man["key_events"],
    f"events of the key: rekey {rk['events']}, jq {jtotal}, generator {man['key_events']}")
say(one["summary"] == rk["summary"] and one["events"] == rk["events"], "rekey on one core reports the same summary")
s = rk["summary"]
if s["omitted_sources"] or s["omitted_actions"]:
    print(f"  note  rekey's summary lists the 50 busiest sources and actions; {s['omitted_sources']} sources and {s['omitted_actions']} actions omitted, so only totals compare")
else:
    row = lambda r: r["baseline"] + r["exposure"] + r["after"]
    rsrc = collections.Counter({r["name"]: row(r) for r in s["sources"]})
    ract = collections.Counter({r["name"]: row(r) for r in s["actions"]})
    say(rsrc == jsrc == msrc, f"per source: {len(rsrc)} sources, same counts in rekey's summary, jq and the generator"
        + ("" if rsrc == jsrc else f" (rekey only: {dict(rsrc - jsrc)}, jq only: {dict(jsrc - rsrc)})"))
    say(ract == jact == mact, f"per action: {len(ract)} actions, same counts in rekey's summary, jq and the generator"
        + ("" if ract == jact else f" (rekey only: {dict(ract - jact)}, jq only: {dict(jact - ract)})"))
pairs = {(g["source"], g["action"]): g["count"] for g in jq}
say(pairs == {tuple(k.split("\t")): n for k, n in man["by_source_action"].items()},
    f"jq's {len(pairs)} (source, action) groups are the generator's")
related = {r["credential"]: r for r in rk["related"]}
found = [k for k in man["derived_keys"] if k in related]
say(len(found) == len(man["derived_keys"]),
    f"rekey names the {len(man['derived_keys'])} credentials the attacker derived ({', '.join(found)}); jq's selection cannot")
# rekey reads the trail again for each generation of derived keys.
depth = {}
def gen(c, seen=()):
    r = related.get(c)
    if r is None or c in seen:
        return 0
    return 1 + gen(r["created_by"], seen + (c,))
passes = 1 + max((gen(c) for c in related if c.startswith(("AKIA", "ASIA"))), default=0)
print(f"  note  rekey read the trail {passes} time(s): once for the key, then again for its derived keys")
kinds = collections.Counter(f["kind"] for f in rk["findings"])
print("  note  rekey findings: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
sys.exit(0 if ok else 1)
PY
