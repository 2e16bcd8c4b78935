#!/usr/bin/env bash
# npm run bench: the release build, the gate's decision in wasm and natively
# (bench/decision.mjs), then the three workers side by side on one workerd
# (bench/run.mjs; flags pass through, e.g. npm run bench -- --rounds 9).
source "$(dirname "$0")/setup.sh"
setup
build
step "one gate decision: wasm in Node vs native (criterion)"
node bench/decision.mjs
step "floor, sessiongate and peer on one workerd"
node bench/run.mjs "$@"
