#!/usr/bin/env bash
# The release wasm's one wasm-opt pass, after worker-build has run
# wasm-bindgen (wrangler.toml's [build] command, so that `npm run build`,
# `npm test` and `wrangler deploy` all run it; Cargo.toml turns
# worker-build's own pass off). Each choice is measured in bench/RESULTS.md:
#
#   -O          binaryen's default optimisation (-Os), as worker-build runs it
#   -ocimfs 0   a function with a single caller is inlined only when small
#               enough for binaryen's other rules: inlining every such
#               function welded each export into one 30-50 KB function, and
#               V8 compiles a wasm function whole on its first call, so a
#               fresh isolate's first request compiled every flow's code
#   (no -g)     the name section is dropped (worker-build keeps it with
#               --debuginfo): 89 KB raw, 25 KiB gzipped. A panic still logs
#               its message and source line; only a trap's stack frames lose
#               their function names (`worker-build --release` alone, without
#               this pass, keeps them)
#   --enable-*  worker-build 0.8.7's explicit feature list (never newer
#               encodings than workerd reads), plus SIMD (.cargo/config.toml)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

wasm_opt="${WASM_OPT_BIN:-node_modules/.bin/wasm-opt}"
wasm=build/worker/index.wasm
[ -x "$wasm_opt" ] || { echo "error: no wasm-opt at $wasm_opt (npm install provides it)" >&2; exit 1; }
[ -f "$wasm" ] || { echo "error: no $wasm: run worker-build first" >&2; exit 1; }

"$wasm_opt" "$wasm" -o "$wasm.opt" -O --one-caller-inline-max-function-size 0 \
  --enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int \
  --enable-bulk-memory --enable-multivalue --enable-reference-types \
  --enable-exception-handling --enable-simd
mv "$wasm.opt" "$wasm"
echo "wasm-opt: $wasm, $(wc -c < "$wasm") bytes"
