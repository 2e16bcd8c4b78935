//! What sessiongate runs on every request: the session token and its key,
//! cookies, the session record, the route and the policy that judges it,
//! the assertion and the step protocol's wire form (docs/DESIGN.md §10).
//!
//! A crate of its own so that it can be built for speed while the rest of
//! the core (configuration, sign-in flows, device binding, the edge's
//! endpoints) is built for size: opt-level is chosen per package, and the
//! generic code (serde's, std's) a crate instantiates is built at that
//! crate's level (Cargo.toml, bench/RESULTS.md). Nothing here reads the
//! configuration or knows the gate; `sessiongate-core` re-exports every
//! module under its own name, so `sessiongate_hot::cookie` is this
//! crate's `cookie`.

pub mod assertion;
pub mod cookie;
pub mod device;
pub mod duration;
pub mod jwk;
pub mod jwt;
pub mod key;
pub mod method_override;
pub mod policy;
pub mod record_cache;
pub mod reply;
pub mod routes;
pub mod session;
pub mod spent;
pub mod step;
pub mod throttle;
pub mod token;
pub mod user_header;
