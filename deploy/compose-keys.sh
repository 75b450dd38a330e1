#!/usr/bin/env bash
# Prepares the docker-compose stack: an identity per sidecar (deploy/keys/sidecar-N.key, 0600,
# never committed) and a .env with their peer IDs and fresh secrets. Idempotent: existing keys
# and .env entries are kept. Needs the built CLI (npm run build).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p deploy/keys
chmod 0700 deploy/keys
touch .env
chmod 0600 .env
put() { grep -q "^$1=" .env || echo "$1=$2" >> .env; }
for i in 1 2 3; do
  key="deploy/keys/sidecar-$i.key"
  [[ -f "$key" ]] || node dist/src/cli/main.js keygen --out "$key" >/dev/null
  id=$(node -e "import('./dist/src/mesh/identity.js').then(async (m) => console.log(m.identityPeerId(await m.loadIdentity(process.argv[1]))))" "$key")
  sed -i "/^NET_SYNC_PEER_ID_$i=/d" .env
  echo "NET_SYNC_PEER_ID_$i=$id" >> .env
done
secret() { node -e "console.log(require('node:crypto').randomBytes(24).toString('base64url'))"; }
put NATS_ADMIN_PASSWORD "$(secret)"
put NATS_BRIDGE_PASSWORD "$(secret)"
put NATS_BRIDGE_SENTIMENT_PASSWORD "$(secret)"
put NET_SYNC_API_TOKEN "$(secret)"
# Compose (outside swarm) bind-mounts secrets with their host owner and mode: the image runs as
# uid 1000 (`node`), which must be able to read the 0600 keys.
if [[ $(id -u) -ne 1000 ]]; then echo "note: chown 1000 deploy/keys/*.key (the image runs as uid 1000)" >&2; fi
echo "compose: keys in deploy/keys, peer IDs and secrets in .env"
