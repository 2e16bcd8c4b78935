//! The tower layer in an axum app, as the README shows it:
//! `ASSERTION_KEY=... cargo run -p sessiongate-origin --features tower --example axum`
use axum::{routing::get, Extension, Router};
use sessiongate_origin::{layer::SessiongateLayer, Identity, Verifier};

async fn dashboard(Extension(who): Extension<Identity>) -> String {
    format!("Hello, {}", who.sub)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let verifier = Verifier::new(&std::env::var("ASSERTION_KEY")?, "my-app")?;
    let app = Router::new()
        .route("/dashboard", get(dashboard))
        .route_layer(SessiongateLayer::new(verifier)); // 401 without a valid assertion

    let listener = tokio::net::TcpListener::bind("127.0.0.1:8788").await?;
    axum::serve(listener, app).await?;
    Ok(())
}
