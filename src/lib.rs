//! sessiongate: sessions at the edge, as a Cloudflare Worker in front of an
//! origin (see docs/DESIGN.md and README.md).
//!
//! The core modules are plain Rust, built and tested natively. The request
//! pipeline, [`gate`], is a sans-IO state machine; only `edge` touches the
//! platform, and only on `wasm32`: its exports are called by the Worker's
//! JS entry, `src/edge/driver.js`, which performs the I/O each step asks for.

pub mod assertion;
pub mod bearer;
pub mod config;
pub mod cookie;
pub mod dbsc;
pub mod device;
pub mod gate;
pub mod handoff;
pub mod jwt;
pub mod key;
pub mod ledger;
pub mod method_override;
pub mod oidc;
pub mod policy;
pub mod record_cache;
pub mod routes;
pub mod session;
pub mod spent;
pub mod store;
pub mod throttle;
pub mod token;
pub mod user_header;

#[cfg(target_arch = "wasm32")]
mod edge;
