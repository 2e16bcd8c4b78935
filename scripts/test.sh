#!/usr/bin/env bash
# npm test: every test. Native Rust tests, then the release build, then the
# end-to-end suite against the built worker in Miniflare.
source "$(dirname "$0")/setup.sh"
setup

step "native tests (cargo test)"
cargo test --workspace

build

step "end-to-end tests (Miniflare, node --test)"
node --test --test-reporter=spec tests/e2e/*.test.mjs
