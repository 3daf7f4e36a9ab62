#!/usr/bin/env bash
# Set-up shared by the README's two commands and CI, the way a CI setup step would do it:
#   1. Node >= 22 (Node 24 LTS from the npm registry's `node` package into .tools/ when the
#      machine's Node is older), put first on PATH;
#   2. pnpm at the version pinned in package.json's `packageManager`, into .tools/;
#   3. redis-server (Debian) for tests that start a private Redis, and Debian's prometheus package
#      (promtool and prometheus) for the example's monitoring test; its service is not started;
#      Debian's chromium for the example's browser test;
#   4. `pnpm install --frozen-lockfile` and the packages' build.
# Source it (`. scripts/setup.sh`) to keep the PATH it sets. Idempotent: a second run only checks.
set -euo pipefail

AYALA_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NODE_VERSION="24.21.0"
TOOLS="$AYALA_ROOT/.tools"
PNPM_VERSION="$(sed -n 's/.*"packageManager": *"pnpm@\([^"]*\)".*/\1/p' "$AYALA_ROOT/package.json")"

log() { printf '\033[1;34m[setup]\033[0m %s\n' "$*"; }

node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

if [ -x "$TOOLS/node/node_modules/.bin/node" ]; then
  export PATH="$TOOLS/node/node_modules/.bin:$PATH"
fi
if [ "$(node_major)" -lt 22 ]; then
  log "Node $(node -v 2>/dev/null || echo none) is older than 22: installing Node $NODE_VERSION into .tools/node"
  npm install --silent --no-audit --no-fund --prefix "$TOOLS/node" "node@$NODE_VERSION" >/dev/null
  export PATH="$TOOLS/node/node_modules/.bin:$PATH"
fi
log "node $(node -v)"

if [ ! -x "$TOOLS/pnpm/node_modules/.bin/pnpm" ] || [ "$("$TOOLS/pnpm/node_modules/.bin/pnpm" -v)" != "$PNPM_VERSION" ]; then
  log "installing pnpm $PNPM_VERSION into .tools/pnpm"
  npm install --silent --no-audit --no-fund --prefix "$TOOLS/pnpm" "pnpm@$PNPM_VERSION" >/dev/null
fi
export PATH="$TOOLS/pnpm/node_modules/.bin:$PATH"
log "pnpm $(pnpm -v)"

if ! command -v redis-server >/dev/null 2>&1; then
  log "installing redis-server from Debian (tests start private servers with it)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
fi

if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
  # The example's monitoring test runs `promtool check metrics` and a private `prometheus` (its
  # own config, storage and port). The package would start a system Prometheus on :9090: a
  # policy-rc.d answering 101 ("action forbidden", honoured by invoke-rc.d and
  # deb-systemd-invoke) keeps it stopped, and is removed after, unless the machine had one.
  log "installing prometheus from Debian (promtool check metrics and a real scrape in the tests)"
  policy_added=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && policy_added=1
  fi
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  if [ -n "$policy_added" ]; then rm -f /usr/sbin/policy-rc.d; fi
fi

if ! command -v chromium >/dev/null 2>&1; then
  # The example's dashboard page is tested in a real browser: Debian's chromium, headless, driven
  # by playwright-core (which downloads no browser of its own).
  log "installing chromium from Debian (the dashboard page's browser test)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi

cd "$AYALA_ROOT"
log "pnpm install --frozen-lockfile"
pnpm install --frozen-lockfile --reporter=append-only
log "building packages"
pnpm run --silent build
