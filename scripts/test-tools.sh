#!/usr/bin/env bash
# Installs the programs rekey's tests drive, when they are missing and this
# runs as root with apt (a fresh Debian machine, CI); otherwise it says which
# tests will skip. Tests that need them skip with a message, and fail under
# REKEY_REQUIRE_SERVICES=1 (testutil.NeedTool), so a missing tool is never a
# silent pass in CI.
#
#   git-filter-repo  incident remediate --rewrite-history
#   sshd             the sshtrust tests (a real sshd on a loopback port)
#   chromium         the web UI's browser tests (internal/web, headless, via chromedp)
set -u

# program → Debian package
declare -A need=([git-filter-repo]=git-filter-repo [/usr/sbin/sshd]=openssh-server [chromium]=chromium)

missing=()
for prog in "${!need[@]}"; do
  if ! command -v "$prog" >/dev/null 2>&1; then missing+=("${need[$prog]}"); fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "not installed: ${missing[*]} (apt-get install ${missing[*]}); the tests that need them will skip" >&2
  exit 0
fi
echo "installing ${missing[*]} (apt-get)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 ||
  { apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null; } ||
  echo "could not install ${missing[*]}: the tests that need them will skip" >&2
exit 0
