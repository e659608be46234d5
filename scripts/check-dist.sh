#!/usr/bin/env bash
# CI: the image's start command runs the built server. Builds dist/, starts `node dist/main.js` on
# the embedded database (a temporary data directory, any free port), waits for /ready to answer
# 200, then stops it with SIGTERM and expects exit 0.
set -euo pipefail
cd "$(dirname "$0")/.."
# The project's runtime (the `node` dependency, Node 24), whatever Node is first on the caller's PATH.
export PATH="$PWD/node_modules/.bin:$PATH"
npm run build --silent
data=$(mktemp -d)
log="$data/server.log"
# Production refuses the fs file store without a signing secret that every process shares.
secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
NODE_ENV=production FILE_SIGNING_SECRET="$secret" PORT=0 HOST=127.0.0.1 DATA_DIR="$data" node dist/main.js >"$log" 2>&1 &
pid=$!
trap 'kill -9 $pid 2>/dev/null || true; rm -rf "$data"' EXIT
url=""
for _ in $(seq 1 120); do
  url=$(grep -o 'ready at http://[^ ]*' "$log" | head -n1 | sed 's/^ready at //; s#/graphql$##') || true
  [ -n "$url" ] && break
  kill -0 $pid 2>/dev/null || { cat "$log"; echo "node dist/main.js exited"; exit 1; }
  sleep 1
done
[ -n "$url" ] || { cat "$log"; echo "node dist/main.js did not start"; exit 1; }
grep -o 'ready at http://[^ ]* on Node [^ ]*' "$log" | head -n1
curl -fsS "$url/ready"
echo
kill -TERM $pid
wait $pid
echo "node dist/main.js: ready, then stopped cleanly on SIGTERM"
