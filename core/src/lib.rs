//! sessiongate's core: everything that decides, in plain Rust with no
//! platform dependency, built and tested natively (docs/DESIGN.md §10).
//!
//! The request pipeline, [`gate`], is a sans-IO state machine: it says
//! which I/O it needs as steps, and a driver performs them. The Worker
//! crate beside this one (`sessiongate`, at the repository's root) is the
//! wasm entry and its JS driver; [`store`] is the native driver the tests,
//! the policy tester and the benches use.

pub mod apps;
pub mod assertion;
pub mod bearer;
pub mod config;
pub mod cookie;
pub mod dbsc;
pub mod device;
pub mod duration;
pub mod gate;
pub mod handoff;
pub mod isolate;
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
#[cfg(feature = "store")]
pub mod store;
pub mod throttle;
pub mod token;
pub mod user_header;
