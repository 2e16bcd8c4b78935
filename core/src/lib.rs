//! sessiongate's core: everything that decides, in plain Rust with no
//! platform dependency, built and tested natively (docs/DESIGN.md §10).
//!
//! The request pipeline, [`gate`], is a sans-IO state machine: it says
//! which I/O it needs as steps, and a driver performs them. The Worker
//! crate beside this one (`sessiongate`, at the repository's root) is the
//! wasm entry and its JS driver; [`store`] is the native driver the tests,
//! the policy tester and the benches use.
//!
//! What every request runs is the `sessiongate-hot` crate (`hot/`), built
//! for speed while this one is built for size; its modules are re-exported
//! here under their own names.

pub use sessiongate_hot::{
    assertion, cookie, device, duration, jwt, key, method_override, policy, record_cache, routes,
    session, spent, throttle, token, user_header,
};

pub mod apps;
pub mod bearer;
pub mod config;
pub mod dbsc;
pub mod gate;
pub mod handoff;
pub mod isolate;
pub mod ledger;
pub mod oidc;
#[cfg(feature = "store")]
pub mod store;
