#!/usr/bin/env bash
# The main demo, from a fresh clone: set-up (toolchain, install, build), the services, then the
# example invoicing API (examples/invoicing-api): migrate, seed, serve, measure, check.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/setup.sh
node services/cli.mjs up
pnpm run --silent demo
