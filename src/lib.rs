//! sessiongate: sessions at the edge, as a Cloudflare Worker in front of an
//! origin (see docs/DESIGN.md and README.md).
//!
//! This crate is the Worker: the wasm entry (`edge`), whose exports the JS
//! driver `src/edge/driver.js` calls, and the revocation ledger's Durable
//! Object (`ledger`). Everything that decides is in `sessiongate-core`
//! (`core/`), which has no platform dependency.

#[cfg(target_arch = "wasm32")]
mod edge;
#[cfg(target_arch = "wasm32")]
mod ledger;
