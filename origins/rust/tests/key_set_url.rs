//! A key set fetched from the edge's URL, against a real HTTP server on
//! 127.0.0.1 that each test starts and stops: how often it is fetched, how
//! keys rotate, and what an unreachable or broken key set comes to.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use sessiongate_origin::testing::{key_set, TestKey};
use sessiongate_origin::{
    KeySetError, Unavailable, Verifier, VerifyError, KEY_SET_MAX_AGE, KEY_SET_REFETCH_COOLDOWN,
    MAX_KEY_SET_LEN,
};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const T0: u64 = 1_700_000_000;
const PATH: &str = "/.sessiongate/jwks.json";

/// What the edge answers at its key set URL, and how often it was asked.
#[derive(Clone)]
struct Published {
    answer: Arc<Mutex<(StatusCode, String)>>,
    delay: Duration,
    fetches: Arc<AtomicUsize>,
}

impl Published {
    fn keys(keys: &[&TestKey]) -> Self {
        Self {
            answer: Arc::new(Mutex::new((StatusCode::OK, key_set(keys)))),
            delay: Duration::ZERO,
            fetches: Arc::default(),
        }
    }

    fn publish(&self, keys: &[&TestKey]) {
        self.answer_with(StatusCode::OK, key_set(keys));
    }

    fn answer_with(&self, status: StatusCode, body: String) {
        *self.answer.lock().unwrap() = (status, body);
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

/// The edge's key set endpoint, served until stopped.
struct Edge {
    url: String,
    stop: oneshot::Sender<()>,
    served: JoinHandle<()>,
}

impl Edge {
    async fn start(published: &Published) -> Self {
        let published = published.clone();
        let app = Router::new().route(
            PATH,
            get(move || async move {
                published.fetches.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(published.delay).await;
                let (status, body) = published.answer.lock().unwrap().clone();
                (status, [("cache-control", "public, max-age=300")], body)
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}{PATH}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel();
        let served = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        Self { url, stop, served }
    }

    fn verifier(&self) -> Verifier {
        Verifier::with_key_set_url(&self.url, "app").unwrap()
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.served.await.unwrap();
    }
}

/// A URL on this machine where nothing listens.
async fn unreachable_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}{PATH}")
}

async fn verify(verifier: &Verifier, key: &TestKey, now: u64) -> Result<String, VerifyError> {
    let assertion = key.assertion("app", "alice", "GET", "/a", now);
    verifier
        .verify_async(&assertion, "GET", "/a", now)
        .await
        .map(|identity| identity.sub)
}

#[tokio::test]
async fn the_set_is_fetched_once_for_many_verifications_until_it_expires() {
    let (ec, ed) = (TestKey::es256("ec1", 1), TestKey::ed_dsa("ed1", 2));
    let published = Published::keys(&[&ec, &ed]);
    let edge = Edge::start(&published).await;
    let verifier = edge.verifier();
    assert_eq!(published.fetches(), 0, "nothing is fetched up front");
    for now in (T0..T0 + KEY_SET_MAX_AGE).step_by(23) {
        for key in [&ec, &ed] {
            assert_eq!(verify(&verifier, key, now).await.as_deref(), Ok("alice"));
        }
    }
    assert_eq!(published.fetches(), 1);
    // Clones share the set.
    assert!(verify(&verifier.clone(), &ec, T0 + 1).await.is_ok());
    assert_eq!(published.fetches(), 1);
    assert!(verify(&verifier, &ec, T0 + KEY_SET_MAX_AGE).await.is_ok());
    assert_eq!(published.fetches(), 2, "fetched again once expired");
    edge.stop().await;
}

#[tokio::test]
async fn a_rotated_in_key_is_fetched_and_both_keys_verify_while_both_are_published() {
    let (old, new) = (TestKey::es256("k-old", 1), TestKey::es256("k-new", 2));
    let published = Published::keys(&[&old]);
    let edge = Edge::start(&published).await;
    let verifier = edge.verifier();
    assert!(verify(&verifier, &old, T0).await.is_ok());
    assert_eq!(
        verify(&verifier, &new, T0 + 1).await,
        Err(VerifyError::UnknownKid)
    );

    // The edge adds the new key; the origin learns of it at its first use.
    published.publish(&[&old, &new]);
    let rotated = T0 + KEY_SET_REFETCH_COOLDOWN + 1;
    assert_eq!(
        verify(&verifier, &new, rotated).await.as_deref(),
        Ok("alice")
    );
    assert_eq!(
        verify(&verifier, &old, rotated + 1).await.as_deref(),
        Ok("alice")
    );
    assert_eq!(published.fetches(), 2);

    // The edge drops the old key: it stops verifying once the set expires.
    published.publish(&[&new]);
    assert!(verify(&verifier, &old, rotated + KEY_SET_MAX_AGE - 1)
        .await
        .is_ok());
    let expired = rotated + KEY_SET_MAX_AGE;
    assert!(verify(&verifier, &new, expired).await.is_ok());
    assert_eq!(
        verify(&verifier, &old, expired).await,
        Err(VerifyError::UnknownKid)
    );
    assert_eq!(published.fetches(), 3);
    edge.stop().await;
}

#[tokio::test]
async fn unknown_kids_fetch_the_set_at_most_once_per_cooldown() {
    let (edge_key, stranger) = (TestKey::ed_dsa("k1", 1), TestKey::ed_dsa("made-up", 9));
    let published = Published::keys(&[&edge_key]);
    let edge = Edge::start(&published).await;
    let verifier = edge.verifier();
    assert!(verify(&verifier, &edge_key, T0).await.is_ok());
    let cooldown = KEY_SET_REFETCH_COOLDOWN;
    let mut fetches = Vec::new();
    for offset in [
        1,
        2,
        cooldown - 1,
        cooldown,
        cooldown + 1,
        2 * cooldown - 1,
        2 * cooldown,
    ] {
        let refused = verify(&verifier, &stranger, T0 + offset).await;
        assert_eq!(refused, Err(VerifyError::UnknownKid), "{offset}");
        fetches.push((offset, published.fetches()));
    }
    assert_eq!(
        fetches,
        [
            (1, 1),
            (2, 1),
            (cooldown - 1, 1),
            (cooldown, 2),
            (cooldown + 1, 2),
            (2 * cooldown - 1, 2),
            (2 * cooldown, 3),
        ]
    );
    edge.stop().await;
}

#[tokio::test]
async fn tokens_refused_by_their_header_fetch_nothing() {
    let edge_key = TestKey::es256("k1", 1);
    let published = Published::keys(&[&edge_key]);
    let edge = Edge::start(&published).await;
    let verifier = edge.verifier();
    let hs256 = sessiongate_origin::test_assertion(
        "assertion-key-of-at-least-32-chars",
        "app",
        "alice",
        "GET",
        "/a",
        T0,
    );
    let payload = serde_json::to_value(sessiongate_origin::testing::claims(
        "app", "alice", "GET", "/a", T0,
    ))
    .unwrap();
    let none = edge_key.sign_jws(&serde_json::json!({ "alg": "none", "kid": "x" }), &payload);
    let no_kid = edge_key.sign_jws(&serde_json::json!({ "alg": "ES256" }), &payload);
    for (token, refusal) in [
        (hs256.as_str(), VerifyError::AlgorithmNotAllowed),
        (none.as_str(), VerifyError::AlgorithmNotAllowed),
        (no_kid.as_str(), VerifyError::UnknownKid),
        ("garbage", sessiongate_origin::JwtError::Malformed.into()),
    ] {
        assert_eq!(
            verifier.verify_async(token, "GET", "/a", T0).await,
            Err(refusal),
            "{token}"
        );
    }
    assert_eq!(published.fetches(), 0);
    edge.stop().await;
}

#[tokio::test]
async fn verify_never_fetches_and_uses_what_was_fetched() {
    let (k1, k2) = (TestKey::es256("k1", 1), TestKey::es256("k2", 2));
    let published = Published::keys(&[&k1]);
    let edge = Edge::start(&published).await;
    let verifier = edge.verifier();
    let sync = |key: &TestKey, now: u64| {
        let assertion = key.assertion("app", "alice", "GET", "/a", now);
        verifier.verify(&assertion, "GET", "/a", now).map(|i| i.sub)
    };
    assert_eq!(
        sync(&k1, T0),
        Err(VerifyError::KeySetUnavailable(Unavailable::NotFetched))
    );
    assert_eq!(published.fetches(), 0);
    assert!(verify(&verifier, &k1, T0).await.is_ok());
    assert_eq!(sync(&k1, T0 + 1).as_deref(), Ok("alice"));
    published.publish(&[&k1, &k2]);
    assert_eq!(sync(&k2, T0 + 100), Err(VerifyError::UnknownKid));
    assert_eq!(
        sync(&k1, T0 + KEY_SET_MAX_AGE),
        Err(VerifyError::KeySetUnavailable(Unavailable::NotFetched)),
        "an expired set is not used"
    );
    assert_eq!(published.fetches(), 1);
    edge.stop().await;
}

#[tokio::test]
async fn a_key_set_that_cannot_be_had_is_unavailable_not_a_bad_signature() {
    let key = TestKey::es256("k1", 1);
    let unreachable = Verifier::with_key_set_url(&unreachable_url().await, "app").unwrap();
    assert_eq!(
        verify(&unreachable, &key, T0).await,
        Err(VerifyError::KeySetUnavailable(Unavailable::Unreachable))
    );

    let published = Published::keys(&[&key]);
    let edge = Edge::start(&published).await;
    let private = key_set(&[&key]).replace(r#""kty":"EC""#, r#""kty":"EC","d":"c2VjcmV0""#);
    let cases = [
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            key_set(&[&key]),
            Unavailable::Status(500),
        ),
        (StatusCode::FOUND, String::new(), Unavailable::Status(302)),
        (
            StatusCode::OK,
            "<html>".to_owned(),
            Unavailable::Unusable(KeySetError::Malformed),
        ),
        (
            StatusCode::OK,
            private,
            Unavailable::Unusable(KeySetError::PrivateKey { position: 1 }),
        ),
        (
            StatusCode::OK,
            " ".repeat(MAX_KEY_SET_LEN + 1),
            Unavailable::TooLarge,
        ),
    ];
    for (status, body, why) in cases {
        published.answer_with(status, body);
        // A verifier of its own each time: nothing cached, nothing cooling down.
        assert_eq!(
            verify(&edge.verifier(), &key, T0).await,
            Err(VerifyError::KeySetUnavailable(why.clone())),
            "{why:?}"
        );
    }
    edge.stop().await;
}

#[tokio::test]
async fn a_failed_refetch_keeps_the_fresh_set_and_the_next_attempt_recovers() {
    let (k1, k2) = (TestKey::ed_dsa("k1", 1), TestKey::ed_dsa("k2", 2));
    let published = Published::keys(&[&k1]);
    let edge = Edge::start(&published).await;
    let verifier = edge.verifier();
    assert!(verify(&verifier, &k1, T0).await.is_ok());
    published.answer_with(StatusCode::BAD_GATEWAY, String::new());
    let later = T0 + KEY_SET_REFETCH_COOLDOWN;
    assert_eq!(
        verify(&verifier, &k2, later).await,
        Err(VerifyError::KeySetUnavailable(Unavailable::Status(502)))
    );
    assert!(
        verify(&verifier, &k1, later + 1).await.is_ok(),
        "still fresh"
    );
    published.publish(&[&k1, &k2]);
    assert!(verify(&verifier, &k2, later + KEY_SET_REFETCH_COOLDOWN)
        .await
        .is_ok());
    assert_eq!(published.fetches(), 3);
    edge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_verifications_wait_for_one_fetch() {
    let key = TestKey::es256("k1", 1);
    let published = Published {
        delay: Duration::from_millis(200),
        ..Published::keys(&[&key])
    };
    let edge = Edge::start(&published).await;
    let verifier = edge.verifier();
    let assertion = key.assertion("app", "alice", "GET", "/a", T0);
    let waiting: Vec<_> = (0..20)
        .map(|_| {
            let (verifier, assertion) = (verifier.clone(), assertion.clone());
            tokio::spawn(async move { verifier.verify_async(&assertion, "GET", "/a", T0).await })
        })
        .collect();
    for verification in waiting {
        assert!(verification.await.unwrap().is_ok());
    }
    assert_eq!(published.fetches(), 1);

    // And when that one fetch fails, those waiting for it share its answer.
    let failing = Published {
        delay: Duration::from_millis(200),
        ..Published::keys(&[&key])
    };
    failing.answer_with(StatusCode::SERVICE_UNAVAILABLE, String::new());
    let down = Edge::start(&failing).await;
    let verifier = down.verifier();
    let waiting: Vec<_> = (0..20)
        .map(|_| {
            let (verifier, assertion) = (verifier.clone(), assertion.clone());
            tokio::spawn(async move { verifier.verify_async(&assertion, "GET", "/a", T0).await })
        })
        .collect();
    for verification in waiting {
        assert_eq!(
            verification.await.unwrap(),
            Err(VerifyError::KeySetUnavailable(Unavailable::Status(503)))
        );
    }
    assert_eq!(failing.fetches(), 1);
    edge.stop().await;
    down.stop().await;
}

#[cfg(feature = "tower")]
mod layer {
    use std::convert::Infallible;
    use std::time::{SystemTime, UNIX_EPOCH};

    use axum::http::{header, Request, Response};
    use sessiongate_origin::layer::SessiongateLayer;
    use sessiongate_origin::{Identity, ASSERTION_HEADER};
    use tower::{service_fn, Layer, Service, ServiceExt};

    use super::*;

    fn now() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    fn app(
        verifier: Verifier,
    ) -> impl Service<Request<()>, Response = Response<String>, Error = Infallible> + Clone {
        SessiongateLayer::new(verifier).layer(service_fn(|req: Request<()>| async move {
            let who = req.extensions().get::<Identity>().unwrap().sub.clone();
            Ok::<_, Infallible>(Response::new(who))
        }))
    }

    async fn call(verifier: &Verifier, assertion: &str) -> Response<String> {
        let request = Request::get("/a")
            .header(ASSERTION_HEADER, assertion)
            .body(())
            .unwrap();
        app(verifier.clone()).oneshot(request).await.unwrap()
    }

    #[tokio::test]
    async fn the_layer_waits_for_the_key_set_then_verifies_from_it() {
        let (edge_key, impostor) = (TestKey::ed_dsa("k1", 1), TestKey::ed_dsa("k1", 2));
        let published = Published::keys(&[&edge_key]);
        let edge = Edge::start(&published).await;
        let verifier = edge.verifier();
        for _ in 0..3 {
            let response = call(
                &verifier,
                &edge_key.assertion("app", "alice", "GET", "/a", now()),
            )
            .await;
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(response.into_body(), "alice");
        }
        assert_eq!(published.fetches(), 1);
        for refused in [
            impostor.assertion("app", "alice", "GET", "/a", now()),
            edge_key.assertion("app", "alice", "GET", "/b", now()),
        ] {
            let response = call(&verifier, &refused).await;
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
            assert_eq!(response.into_body(), "");
        }
        edge.stop().await;
    }

    #[tokio::test]
    async fn the_layer_answers_503_when_the_key_set_cannot_be_had() {
        let key = TestKey::es256("k1", 1);
        let verifier = Verifier::with_key_set_url(&unreachable_url().await, "app").unwrap();
        let response = call(
            &verifier,
            &key.assertion("app", "alice", "GET", "/a", now()),
        )
        .await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            response.headers().get(header::CACHE_CONTROL).unwrap(),
            "no-store"
        );
        assert_eq!(response.into_body(), "");
    }
}
