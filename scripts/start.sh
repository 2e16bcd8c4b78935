#!/usr/bin/env bash
# npm start: the demo origin on http://127.0.0.1:8788 and sessiongate in
# front of it under wrangler dev (local mode, local KV) on
# http://127.0.0.1:8787. Ctrl-C stops both. `npm run demo:oidc` passes
# --oidc: sign-in at a local OpenID Provider on http://127.0.0.1:9090;
# `npm run demo:apps` passes --apps: two demo origins as two apps.
source "$(dirname "$0")/setup.sh"
setup
step "building the demo origin"
cargo build -p sessiongate-demo
step "starting the demo origin and sessiongate (wrangler dev builds the worker first)"
exec node scripts/start.mjs "$@"
