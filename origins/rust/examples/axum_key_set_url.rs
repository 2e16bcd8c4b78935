//! The tower layer in an axum app, verifying with the edge's published key
//! set, as the crate's README shows it:
//! `SESSIONGATE_JWKS_URL=https://<edge>/.sessiongate/jwks.json cargo run -p sessiongate-origin --features tower,jwks-url --example axum_key_set_url`
use axum::{routing::get, Extension, Router};
use sessiongate_origin::{layer::SessiongateLayer, Identity, Verifier};

async fn dashboard(Extension(who): Extension<Identity>) -> String {
    format!("Hello, {}", who.sub)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Fetched when the first assertion needs it, then kept up to date.
    let verifier = Verifier::with_key_set_url(&std::env::var("SESSIONGATE_JWKS_URL")?, "my-app")?;
    let app = Router::new()
        .route("/dashboard", get(dashboard))
        .route_layer(SessiongateLayer::new(verifier)); // 401 without a valid assertion, 503 without the key set

    let listener = tokio::net::TcpListener::bind("127.0.0.1:8788").await?;
    axum::serve(listener, app).await?;
    Ok(())
}
