#!/usr/bin/env bash
# npm test: every test. Native Rust tests, the release build (and its size
# budget), the deploy check (wrangler deploy --dry-run), then one node --test
# run of the Miniflare end-to-end suite, the PyJWT/jose interop tests and
# the browser tests.
source "$(dirname "$0")/setup.sh"
setup

step "native tests (cargo test)"
cargo test --workspace

build
step "checking the wasm size budget"
gzip_bytes=$(gzip -9 -c build/worker/index.wasm | wc -c)
echo "build/worker/index.wasm: $(wc -c < build/worker/index.wasm) bytes raw, $gzip_bytes bytes gzip"
# 288 KiB: the 286.3 KiB reached once the core but its request path
# (core/hot) was built for size (#26), so that growth is a decision.
# The goal is 200 KiB (#26); bench/RESULTS.md says what stands in the way.
# The platform's limit is 3 MiB on the Free plan.
budget_kib=288
if [ "$gzip_bytes" -gt $((budget_kib * 1024)) ]; then
  echo "error: the gzipped wasm exceeds ${budget_kib} KiB" >&2
  exit 1
fi

step "deploy check: wrangler deploy --dry-run, within the Free plan's size limit"
node scripts/deploy-check.mjs

step "building the demo origin"
cargo build -p sessiongate-demo

# PyJWT for the interop tests; the Python origin library and the servers
# its e2e origins run on. Installed again when the requirements change.
if [ ! -x .venv/bin/python ] || [ tests/interop/requirements.txt -nt .venv/.requirements ] || [ origins/python/pyproject.toml -nt .venv/.requirements ]; then
  step "making .venv: PyJWT, origins/python and its servers"
  python3 -m venv .venv
  .venv/bin/pip install --quiet -r tests/interop/requirements.txt
  touch .venv/.requirements
fi

step "the origin libraries' own tests: Node (origins/node) and Python (origins/python)"
(cd origins/node && { [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund; } && npm test && npm run typecheck)
.venv/bin/python -m pytest -q origins/python
cargo test -p sessiongate-origin --all-features

# chromium for the browser tests; openssl makes a test CA and certutil
# (libnss3-tools) makes chromium trust it, since it runs device-bound
# sessions only over trusted HTTPS.
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v certutil >/dev/null 2>&1 || missing+=(libnss3-tools)
if [ ${#missing[@]} -gt 0 ]; then
  step "installing Debian's ${missing[*]} for the browser tests"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y "${missing[@]}"
fi

step "end-to-end (Miniflare), interop (PyJWT, jose) and browser (chromium) tests"
node --test --test-reporter=spec tests/e2e/*.test.mjs tests/interop/*.test.mjs tests/browser/*.test.mjs
