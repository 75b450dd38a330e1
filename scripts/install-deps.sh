#!/usr/bin/env bash
# Installs npm dependencies from package-lock.json. `npm ci` first; npm 11 on this machine
# kind writes lockfiles without other platforms' optional packages (npm/cli#4828: rollup's
# and esbuild's native builds), which `npm ci` then refuses as "not in sync". `npm install`
# with the same lockfile installs the same locked versions and leaves the lockfile unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! npm ci --no-audit --no-fund; then
  echo "net-sync: npm ci refused the lockfile; installing the locked versions with npm install" >&2
  npm install --no-audit --no-fund
fi
