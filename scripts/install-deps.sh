#!/usr/bin/env bash
# Installs npm dependencies exactly as package-lock.json pins them (`npm ci`). The lockfile
# lists every platform's optional native packages (rollup's, esbuild's), so `npm ci` accepts it
# on any machine. After changing dependencies, keep it that way: `npm install`, then
# `npm install --package-lock-only` (npm/cli#4828: a lockfile written from an existing
# node_modules can miss other platforms' optional packages, which `npm ci` then refuses).
set -euo pipefail
cd "$(dirname "$0")/.."
npm ci --no-audit --no-fund
