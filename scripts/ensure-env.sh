#!/usr/bin/env bash
# Makes a fresh Debian machine with Node 20 ready for net-sync: nats-server from apt (Debian's
# package, /usr/sbin/nats-server), npm dependencies from the lockfile, and the TypeScript build.
# Idempotent and quick when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ! -x /usr/sbin/nats-server ]]; then
  echo "net-sync: installing nats-server with apt" >&2
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nats-server >/dev/null
fi

# Debian's Chromium drives the status page test (playwright-core, executablePath /usr/bin/chromium):
# only the test commands ask for it (--with-browser); the demo does not need it.
if [[ "${1:-}" == "--with-browser" && ! -x /usr/bin/chromium ]]; then
  echo "net-sync: installing chromium with apt" >&2
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

if [[ ! -d node_modules/better-sqlite3/build/Release || ! -d node_modules/.bin ]]; then
  echo "net-sync: installing npm dependencies (better-sqlite3 compiles from source, ~1 min)" >&2
  bash scripts/install-deps.sh
fi

if [[ ! -f dist/src/cli/main.js || -n "$(find src bench test/support -newer dist/src/cli/main.js -name '*.ts' -print -quit 2>/dev/null)" ]]; then
  echo "net-sync: building" >&2
  npx tsc -p tsconfig.json
fi
