//! The demo origin behind `npm start`: a login page, a dashboard and a JSON
//! API, reachable only through sessiongate.
//!
//! Login is the origin's job: it checks a password against the argon2 hash
//! in `users.json` and, on success, answers with a `Sessiongate-Login`
//! handoff; the edge then owns the session. Every other page is behind
//! [`SessiongateLayer`], which admits only requests carrying a valid
//! assertion: signed by a key of the edge's key set when
//! `SESSIONGATE_JWKS_URL` names it (`<edge>/.sessiongate/jwks.json`) or
//! `SESSIONGATE_JWKS` holds it (pinned: for an edge whose TLS certificate
//! the demo would not trust), otherwise under the shared `ASSERTION_KEY`.
//!
//! `sessiongate-demo hash <password>` prints a hash for `users.json`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::{Form, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde::Deserialize;
use sessiongate_origin::layer::SessiongateLayer;
use sessiongate_origin::{safe_return_to, Handoff, Identity, Verifier, LOGIN_HEADER};

const STYLE: &str = include_str!("../static/style.css");

#[derive(Deserialize)]
struct User {
    name: String,
    role: String,
    #[serde(default)]
    email: Option<String>,
    /// What sessiongate's policies match on (`admins` may reach `/admin`).
    #[serde(default)]
    groups: Vec<String>,
    /// argon2id, PHC string format.
    password_hash: String,
}

struct Demo {
    users: HashMap<String, User>,
    handoff_key: String,
    /// Hash verified when the username is unknown, so that both failures
    /// take the same time.
    decoy_hash: String,
}

fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("{name} is not set"))
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let [_, command, password] = args.as_slice() {
        if command == "hash" {
            println!("{}", hash(password));
            return;
        }
    }
    if let Err(e) = serve().await {
        eprintln!("sessiongate-demo: {e}");
        std::process::exit(1);
    }
}

async fn serve() -> Result<(), String> {
    let addr: SocketAddr = std::env::var("DEMO_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:8788".to_owned())
        .parse()
        .map_err(|e| format!("DEMO_ADDR: {e}"))?;
    let users_path = std::env::var("DEMO_USERS")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/users.json").to_owned());
    let users = std::fs::read_to_string(&users_path).map_err(|e| format!("{users_path}: {e}"))?;
    let users: HashMap<String, User> =
        serde_json::from_str(&users).map_err(|e| format!("{users_path}: {e}"))?;
    let audience = std::env::var("AUDIENCE").unwrap_or_else(|_| "sessiongate-demo".to_owned());
    let verifier = verifier(audience)?;
    let demo = Arc::new(Demo {
        users,
        handoff_key: env("HANDOFF_KEY")?,
        decoy_hash: hash("decoy"),
    });

    let protected = Router::new()
        .route("/", get(dashboard))
        .route("/dashboard", get(dashboard))
        .route("/api/me", get(me))
        .route_layer(SessiongateLayer::new(verifier));
    let public = Router::new()
        .route("/login", get(login_page).post(login))
        .route(
            "/static/style.css",
            get(|| async { ([(header::CONTENT_TYPE, "text/css")], STYLE) }),
        );
    let app = protected.merge(public).with_state(demo);

    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("{addr}: {e}"))?;
    println!("demo origin on http://{addr}");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| e.to_string())
}

/// The edge's public keys when it publishes them (fetched when the first
/// request needs them, as the edge may start after the origin), else the
/// key shared with it.
fn verifier(audience: String) -> Result<Verifier, String> {
    let set = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
    if let Some(url) = set("SESSIONGATE_JWKS_URL") {
        return Verifier::with_key_set_url(&url, audience)
            .map_err(|e| format!("SESSIONGATE_JWKS_URL: {e}"));
    }
    if let Some(jwks) = set("SESSIONGATE_JWKS") {
        return Verifier::with_key_set(&jwks, audience)
            .map_err(|e| format!("SESSIONGATE_JWKS: {e}"));
    }
    Verifier::new(&env("ASSERTION_KEY")?, audience).map_err(|e| format!("ASSERTION_KEY: {e}"))
}

fn hash(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .unwrap_or_default()
}

/// The login page's query. Any other parameter is ignored: a step-up sends
/// `max_age` too, and every login here checks the password anyway, so the
/// handoff's `auth_time` (now, by default) is always fresh.
#[derive(Deserialize)]
struct LoginQuery {
    return_to: Option<String>,
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    return_to: Option<String>,
}

async fn login_page(Query(query): Query<LoginQuery>) -> Html<String> {
    Html(login_html(query.return_to.as_deref(), None))
}

async fn login(State(demo): State<Arc<Demo>>, Form(form): Form<LoginForm>) -> Response {
    let user = demo.users.get(&form.username);
    let stored = user.map_or(demo.decoy_hash.as_str(), |u| u.password_hash.as_str());
    let password_ok = PasswordHash::new(stored).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(form.password.as_bytes(), &parsed)
            .is_ok()
    });
    let return_to = form.return_to.as_deref().and_then(safe_return_to);
    match user.filter(|_| password_ok) {
        Some(user) => {
            let mut handoff = Handoff::new(&form.username)
                .claim("name", &user.name)
                .claim("role", &user.role);
            if let Some(email) = &user.email {
                handoff = handoff.email(email);
            }
            for group in &user.groups {
                handoff = handoff.group(group);
            }
            let handoff = handoff.sign_now(&demo.handoff_key);
            let mut headers = HeaderMap::new();
            if let Ok(value) = HeaderValue::from_str(&handoff) {
                headers.insert(LOGIN_HEADER, value);
            }
            (headers, Redirect::to(return_to.unwrap_or("/dashboard"))).into_response()
        }
        None => (
            StatusCode::UNAUTHORIZED,
            Html(login_html(return_to, Some("Wrong username or password."))),
        )
            .into_response(),
    }
}

async fn dashboard(Extension(identity): Extension<Identity>) -> Html<String> {
    let name = identity
        .claims
        .get("name")
        .map_or(identity.sub.as_str(), String::as_str);
    let claims: String = identity
        .claims
        .iter()
        .map(|(k, v)| format!("<tr><th>{}</th><td>{}</td></tr>", escape(k), escape(v)))
        .collect();
    let email = identity.email.as_deref().unwrap_or("—");
    let groups = identity.groups.join(", ");
    let body = format!(
        r#"<header><h1>Dashboard</h1><p class="who" id="user">Signed in as <strong>{name}</strong> <span class="muted">({sub})</span></p></header>
<section class="card">
  <h2>What the origin knows</h2>
  <p class="muted">From the assertion sessiongate signed for this request; the origin never sees the session cookie.</p>
  <table>
    <tr><th>user</th><td id="sub">{sub}</td></tr>
    <tr><th>session</th><td><code>{sid}</code></td></tr>
    <tr><th>email</th><td id="email">{email}</td></tr>
    <tr><th>groups</th><td id="groups">{groups}</td></tr>
    {claims}
  </table>
  <p><a href="/api/me">This identity as JSON</a> · <a href="/.sessiongate/sessions">Your sessions</a></p>
</section>
<section class="actions">
  <form method="post" action="/.sessiongate/logout"><button id="logout" type="submit">Sign out</button></form>
  <form method="post" action="/.sessiongate/logout?scope=all"><button class="secondary" type="submit">Sign out everywhere</button></form>
</section>"#,
        name = escape(name),
        sub = escape(&identity.sub),
        sid = escape(&identity.sid),
        email = escape(email),
        groups = escape(&groups),
    );
    Html(page("Dashboard", &body))
}

async fn me(Extension(identity): Extension<Identity>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "sub": identity.sub, "sid": identity.sid, "claims": identity.claims,
        "email": identity.email, "groups": identity.groups,
        "auth_time": identity.auth_time, "exp": identity.exp,
        "kind": identity.kind, "client_id": identity.client_id, "scope": identity.scope,
    }))
}

fn login_html(return_to: Option<&str>, error: Option<&str>) -> String {
    let error = error.map_or(String::new(), |e| {
        format!(
            r#"<p class="error" id="error" role="alert">{}</p>"#,
            escape(e)
        )
    });
    let return_to = return_to
        .and_then(safe_return_to)
        .map_or(String::new(), |r| {
            format!(
                r#"<input type="hidden" name="return_to" value="{}">"#,
                escape(r)
            )
        });
    let body = format!(
        r#"<section class="card narrow">
  <h1>Sign in</h1>
  <p class="muted">Demo users: <code>alice</code> / <code>wonderland</code>, <code>bob</code> / <code>builder</code></p>
  {error}
  <form method="post" action="/login">
    {return_to}
    <label>Username <input name="username" id="username" autocomplete="username" required autofocus></label>
    <label>Password <input name="password" id="password" type="password" autocomplete="current-password" required></label>
    <button type="submit" id="submit">Sign in</button>
  </form>
</section>"#
    );
    page("Sign in", &body)
}

fn page(title: &str, body: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · sessiongate demo</title><link rel="stylesheet" href="/static/style.css"></head>
<body><main>{body}</main><footer>sessiongate demo origin</footer></body></html>"#
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}
