#!/usr/bin/env bash
# npm run build: build/worker/shim.mjs and its wasm.
source "$(dirname "$0")/setup.sh"
setup
build
