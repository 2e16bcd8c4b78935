# Sourced by the other scripts: installs what building and testing need.
# Each step is a no-op when already done; a step that fails stops the run.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

WORKER_BUILD_VERSION=0.8.7
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
export PATH="$CARGO_BIN:$ROOT/node_modules/.bin:$PATH"

# wrangler: no metrics, no banner or update check, and no fetch of
# Request.cf from the internet (it falls back only after a delay).
export WRANGLER_SEND_METRICS=false
export WRANGLER_HIDE_BANNER=true
export CLOUDFLARE_CF_FETCH_ENABLED=false

# worker-build would download these; point it at local copies instead.
export WASM_BINDGEN_BIN="$CARGO_BIN/wasm-bindgen"
export ESBUILD_BIN="$ROOT/node_modules/.bin/esbuild"
export WASM_OPT_BIN="$ROOT/node_modules/.bin/wasm-opt"

step() { printf '\n==> %s\n' "$*"; }

require() {
  command -v "$1" >/dev/null 2>&1 || { echo "error: $1 is required but not installed ($2)" >&2; exit 1; }
}

# cargo_tool BINARY VERSION CRATE [cargo install flags...]
cargo_tool() {
  local bin=$1 version=$2 crate=$3
  shift 3
  # `--version` prints "0.8.7" or "name 0.2.130": compare the last word.
  if [ "$("$bin" --version 2>/dev/null | awk '{print $NF}')" != "$version" ]; then
    step "installing $crate $version"
    cargo install "$crate" --version "$version" "$@"
  fi
}

setup() {
  require cargo "install Rust from https://rustup.rs"
  require rustup "install Rust from https://rustup.rs"
  require node "install Node.js 20 or later"
  require npm "install Node.js 20 or later"
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    step "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
  cargo_tool worker-build "$WORKER_BUILD_VERSION" worker-build --locked
  # The CLI must match the wasm-bindgen library exactly.
  local bindgen
  bindgen=$(awk '$0 == "name = \"wasm-bindgen\"" { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)
  [ -n "$bindgen" ] || { echo "error: no wasm-bindgen in Cargo.lock" >&2; exit 1; }
  cargo_tool wasm-bindgen "$bindgen" wasm-bindgen-cli
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    step "installing npm packages"
    npm ci --no-audit --no-fund
  fi
}

# The build command of wrangler.toml, which `wrangler deploy` runs too.
build() {
  local command
  command=$(awk -F'"' '$1 == "command = " { print $2; exit }' wrangler.toml)
  [ -n "$command" ] || { echo "error: wrangler.toml has no [build] command" >&2; exit 1; }
  step "building the worker (release): $command"
  bash -c "$command"
}
