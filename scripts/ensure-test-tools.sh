#!/usr/bin/env bash
# The system tools `npm test` needs beyond Node, Postgres and Redis, made present before the
# suite starts (npm runs this as `pretest`; .ci/run runs it too):
#   - promtool, for the alert-rule tests, and prometheus, for the rollout rehearsal (npm run
#     rehearse:rollout): extracted from Debian's `prometheus` package into the project-local
#     .tools/bin (gitignored); no Prometheus service is installed, the rehearsal runs its own;
#   - nginx, the rehearsal's weighted proxy: the binary extracted from Debian's `nginx` package
#     into .tools/bin the same way (installing the package would start a system nginx on :80);
#   - pgbouncer, the fleet tier's transaction pooler (test/fleet, npm run fleet): the binary extracted
#     from Debian's `pgbouncer` package into .tools/bin (installing the package would start a system
#     pgbouncer), with the shared libraries it links (libc-ares2, libevent) installed as packages;
#   - docker-compose (a compose parser; no Docker engine needed), shellcheck, and util-linux's
#     unshare and setpriv, for the delivery tests (test/meta/deploy-*, docker-image);
#   - Debian's chromium, for the browser tests of the client's page (test/e2e/client-page.e2e-spec.ts,
#     driven by playwright-core, which downloads no browser; CHROMIUM names another binary);
#   - zsh, the second shell the README walkthrough is pasted into (test/e2e/readme-walkthrough.e2e-spec.ts);
#   - iproute2's ss, which reads a socket's sent-segment count (test/faults/redis-connection.fault-spec.ts).
# Present tools cost one `command -v` each. Missing ones are installed with apt-get as root (or
# with passwordless sudo); without either it stops with one line that says what to install.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
TOOLS_BIN="$PWD/.tools/bin"

say() { printf 'ensure-test-tools: %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo -n "$@"
  else
    say "need root (or passwordless sudo) to run: $*"
    say "install them yourself (Debian/Ubuntu: apt-get install --no-install-recommends docker-compose shellcheck util-linux chromium zsh; promtool: see docs/development.md, Tests)"
    exit 1
  fi
}

apt_updated=false
apt_update_once() {
  if [ "$apt_updated" = false ]; then
    as_root apt-get update -qq
    apt_updated=true
  fi
}

have_tool() { command -v "$1" >/dev/null 2>&1 || [ -x "$TOOLS_BIN/$1" ]; }

missing=()
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
{ command -v unshare && command -v setpriv; } >/dev/null 2>&1 || missing+=(util-linux)
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || missing+=(chromium)
command -v zsh >/dev/null 2>&1 || missing+=(zsh)
command -v ss >/dev/null 2>&1 || missing+=(iproute2)
# Libraries only (no service): what the extracted pgbouncer links against.
ldconfig -p | grep -q 'libcares\.so\.2' || missing+=(libc-ares2)
ldconfig -p | grep -q 'libevent-2\.1\.so\.7' || missing+=(libevent-2.1-7)

if [ "${#missing[@]}" -gt 0 ]; then
  say "installing ${missing[*]} (Debian packages)"
  apt_update_once
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# extract PACKAGE PATH...: copies each PATH of Debian's PACKAGE into .tools/bin, without installing it.
extract() {
  local package=$1 file
  shift
  say "fetching $* from Debian's $package package into .tools/bin"
  apt_update_once
  # apt-get download runs as the calling user and needs a directory it may write.
  (cd "$tmp" && apt-get download -qq "$package") || {
    say "apt-get download $package failed"
    exit 1
  }
  dpkg-deb -x "$tmp"/"${package}"_*.deb "$tmp/$package"
  mkdir -p "$TOOLS_BIN"
  for file in "$@"; do cp "$tmp/$package/$file" "$TOOLS_BIN/"; done
}

if ! have_tool promtool || ! have_tool prometheus; then
  extract prometheus usr/bin/promtool usr/bin/prometheus
fi
if ! have_tool pgbouncer; then
  extract pgbouncer usr/sbin/pgbouncer
  "$TOOLS_BIN/pgbouncer" --version >/dev/null 2>&1 || {
    say "the extracted pgbouncer does not run; missing libraries: $(ldd "$TOOLS_BIN/pgbouncer" | grep 'not found' | tr -s ' \t\n' ' ')"
    exit 1
  }
fi
if ! have_tool nginx; then
  extract nginx usr/sbin/nginx
  "$TOOLS_BIN/nginx" -v 2>/dev/null || {
    say "the extracted nginx does not run; missing libraries: $(ldd "$TOOLS_BIN/nginx" | grep 'not found' | tr -s ' \t\n' ' ')"
    exit 1
  }
fi
