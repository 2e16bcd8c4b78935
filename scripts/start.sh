#!/usr/bin/env bash
# npm start: sessiongate in local mode (wrangler dev, local KV) on
# http://127.0.0.1:8787, in front of an origin on http://127.0.0.1:8788.
source "$(dirname "$0")/setup.sh"
setup
if [ ! -f .dev.vars ]; then
  step "writing .dev.vars with fresh secrets"
  node scripts/keygen.mjs --dev-vars > .dev.vars
fi
step "starting the origin on http://127.0.0.1:8788"
node scripts/echo-origin.mjs &
origin=$!
trap 'kill "$origin" 2>/dev/null || true' EXIT
step "starting sessiongate on http://127.0.0.1:8787 (Ctrl-C stops both)"
wrangler dev --ip 127.0.0.1 --port 8787
