//! sessiongate: sessions at the edge, as a Cloudflare Worker in front of an
//! origin (see DESIGN.md in the steering repository and README.md).
//!
//! The core modules are plain Rust, built and tested natively; only `edge`
//! touches workers-rs, and only on `wasm32`.

pub mod assertion;
pub mod config;
pub mod cookie;
pub mod gate;
pub mod handoff;
pub mod jwt;
pub mod key;
pub mod routes;
pub mod session;
pub mod store;
pub mod throttle;
pub mod token;

#[cfg(target_arch = "wasm32")]
mod edge;

/// The Worker's entry: everything happens in [`edge`].
#[cfg(target_arch = "wasm32")]
#[worker::event(fetch)]
async fn fetch(
    request: worker::web_sys::Request,
    env: worker::Env,
    _ctx: worker::Context,
) -> worker::Result<worker::web_sys::Response> {
    console_error_panic_hook::set_once();
    edge::fetch(request, env).await
}
