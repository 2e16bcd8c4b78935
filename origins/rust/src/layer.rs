//! A tower layer that admits only requests with a valid assertion.
//!
//! A request whose `Sessiongate-Assertion` is missing or does not verify for
//! its own method and path is answered `401` with an empty body; the inner
//! service never sees it. Otherwise the [`Identity`] is put into the
//! request's extensions (axum: `Extension<Identity>`).
//!
//! With a key set URL, a request that needs the key set fetched (none yet,
//! expired, or lacking the assertion's `kid`) waits for the fetch; if the
//! key set cannot be had, the request is answered `503`, as nothing was
//! learnt about it. Every other request is verified without waiting.
//!
//! ```
//! use http::{Request, Response, StatusCode};
//! use sessiongate_origin::layer::SessiongateLayer;
//! use sessiongate_origin::{Identity, Verifier};
//! use tower::{service_fn, Layer, ServiceExt};
//!
//! # tokio_test();
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn tokio_test() {
//! let verifier = Verifier::new("assertion-key-of-at-least-32-chars", "my-app").unwrap();
//! let app = SessiongateLayer::new(verifier).layer(service_fn(|req: Request<()>| async move {
//!     let who = req.extensions().get::<Identity>().map(|id| id.sub.clone()).unwrap_or_default();
//!     Ok::<_, std::convert::Infallible>(Response::new(who))
//! }));
//!
//! let anonymous = Request::get("/dashboard").body(()).unwrap();
//! assert_eq!(app.oneshot(anonymous).await.unwrap().status(), StatusCode::UNAUTHORIZED);
//! # }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use http::{header, HeaderValue, Request, Response, StatusCode};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::{unix_now, Identity, Verifier, VerifyError, ASSERTION_HEADER};

/// Wraps services in [`Sessiongate`].
#[derive(Debug, Clone)]
pub struct SessiongateLayer {
    verifier: Arc<Verifier>,
}

impl SessiongateLayer {
    pub fn new(verifier: Verifier) -> Self {
        Self {
            verifier: Arc::new(verifier),
        }
    }
}

impl<S> Layer<S> for SessiongateLayer {
    type Service = Sessiongate<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Sessiongate {
            inner,
            verifier: Arc::clone(&self.verifier),
        }
    }
}

/// The service [`SessiongateLayer`] makes.
#[derive(Debug, Clone)]
pub struct Sessiongate<S> {
    inner: S,
    verifier: Arc<Verifier>,
}

/// A verification that waits for the key set.
type Verification = Pin<Box<dyn Future<Output = Result<Identity, VerifyError>> + Send>>;

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Sessiongate<S>
where
    // Clone: a request that waits for the key set takes the service that
    // was polled ready along, and leaves a clone in its place.
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ReqBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let Some(assertion) = assertion(&req) else {
            return ResponseFuture::answered(refusal(None));
        };
        let method = req.method().as_str();
        let path_and_query = path_and_query(&req);
        let now = unix_now();
        if self.verifier.fetches_first(assertion, now) {
            let verifier = Arc::clone(&self.verifier);
            let (assertion, method, path_and_query) = (
                assertion.to_owned(),
                method.to_owned(),
                path_and_query.to_owned(),
            );
            let verification = Box::pin(async move {
                verifier
                    .verify_async(&assertion, &method, &path_and_query, now)
                    .await
            });
            let clone = self.inner.clone();
            let ready = std::mem::replace(&mut self.inner, clone);
            return ResponseFuture::awaiting(verification, ready, req);
        }
        match self.verifier.verify(assertion, method, path_and_query, now) {
            Ok(identity) => {
                req.extensions_mut().insert(identity);
                ResponseFuture::admitted(self.inner.call(req))
            }
            Err(e) => ResponseFuture::answered(refusal(Some(&e))),
        }
    }
}

pin_project! {
    /// The future [`Sessiongate`] answers with: a refusal, the inner
    /// service's response, or first the key set.
    pub struct ResponseFuture<S, B>
    where
        S: Service<Request<B>>,
    {
        #[pin]
        state: State<S, B>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, B>
    where
        S: Service<Request<B>>,
    {
        /// Refused without the inner service.
        Answered { response: Option<S::Response> },
        /// Passed on, identity and all.
        Admitted { #[pin] future: S::Future },
        /// Waiting for the key set, with the service that was polled ready
        /// and the request it is to take.
        AwaitingKeySet { verification: Verification, waiting: Option<(S, Request<B>)> },
    }
}

impl<S: Service<Request<B>>, B> ResponseFuture<S, B> {
    fn answered(response: S::Response) -> Self {
        Self {
            state: State::Answered {
                response: Some(response),
            },
        }
    }

    fn admitted(future: S::Future) -> Self {
        Self {
            state: State::Admitted { future },
        }
    }

    fn awaiting(verification: Verification, ready: S, request: Request<B>) -> Self {
        Self {
            state: State::AwaitingKeySet {
                verification,
                waiting: Some((ready, request)),
            },
        }
    }
}

impl<S, B, ResBody> Future for ResponseFuture<S, B>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
    ResBody: Default,
{
    type Output = Result<S::Response, S::Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let mut state = self.as_mut().project().state;
            let next = match state.as_mut().project() {
                StateProj::Answered { response } => {
                    return Poll::Ready(Ok(response.take().expect("polled after it answered")));
                }
                StateProj::Admitted { future } => return future.poll(cx),
                StateProj::AwaitingKeySet {
                    verification,
                    waiting,
                } => {
                    let verified = ready!(verification.as_mut().poll(cx));
                    let (mut ready, mut req) = waiting.take().expect("polled after it answered");
                    match verified {
                        Ok(identity) => {
                            req.extensions_mut().insert(identity);
                            State::Admitted {
                                future: ready.call(req),
                            }
                        }
                        Err(e) => State::Answered {
                            response: Some(refusal(Some(&e))),
                        },
                    }
                }
            };
            state.set(next);
        }
    }
}

fn assertion<B>(req: &Request<B>) -> Option<&str> {
    req.headers().get(ASSERTION_HEADER)?.to_str().ok()
}

fn path_and_query<B>(req: &Request<B>) -> &str {
    req.uri()
        .path_and_query()
        .map_or_else(|| req.uri().path(), |pq| pq.as_str())
}

/// `401`, or `503` when the key set could not be had: empty, and kept by
/// no cache.
fn refusal<B: Default>(error: Option<&VerifyError>) -> Response<B> {
    let mut response = Response::new(B::default());
    *response.status_mut() = match error {
        Some(VerifyError::KeySetUnavailable(_)) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::UNAUTHORIZED,
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_assertion;
    use crate::testing::{key_set, TestKey};
    use std::convert::Infallible;
    use tower::{service_fn, ServiceExt};

    const KEY: &str = "assertion-key-of-at-least-32-chars";

    fn app(
        verifier: Verifier,
    ) -> Sessiongate<
        impl Service<Request<()>, Response = Response<String>, Error = Infallible> + Clone,
    > {
        SessiongateLayer::new(verifier).layer(service_fn(|req: Request<()>| async move {
            let identity = req
                .extensions()
                .get::<Identity>()
                .cloned()
                .expect("the layer sets the identity");
            Ok::<_, Infallible>(Response::new(identity.sub))
        }))
    }

    fn shared() -> Verifier {
        Verifier::new(KEY, "app").unwrap()
    }

    fn request(uri: &str, assertion: Option<&str>) -> Request<()> {
        let mut builder = Request::get(uri);
        if let Some(a) = assertion {
            builder = builder.header(ASSERTION_HEADER, a);
        }
        builder.body(()).unwrap()
    }

    #[tokio::test]
    async fn passes_verified_requests_with_their_identity() {
        let assertion = test_assertion(KEY, "app", "alice", "GET", "/a?b=1", unix_now());
        let response = app(shared())
            .oneshot(request("/a?b=1", Some(&assertion)))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.into_body(), "alice");
    }

    #[tokio::test]
    async fn answers_401_to_missing_garbled_or_misdirected_assertions() {
        let other_path = test_assertion(KEY, "app", "alice", "GET", "/other", unix_now());
        for assertion in [None, Some("garbage"), Some(other_path.as_str())] {
            let response = app(shared())
                .oneshot(request("/a", assertion))
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{assertion:?}");
            assert_eq!(
                response.headers().get(header::CACHE_CONTROL).unwrap(),
                "no-store"
            );
            assert_eq!(response.into_body(), "");
        }
    }

    #[tokio::test]
    async fn a_pinned_key_set_admits_its_keys_signatures_only() {
        let (edge, impostor) = (TestKey::ed_dsa("k1", 1), TestKey::ed_dsa("k1", 2));
        let pinned = Verifier::with_key_set(&key_set(&[&edge]), "app").unwrap();
        let genuine = edge.assertion("app", "alice", "GET", "/a", unix_now());
        let response = app(pinned.clone())
            .oneshot(request("/a", Some(&genuine)))
            .await
            .unwrap();
        assert_eq!(response.into_body(), "alice");
        let hs256 = test_assertion(KEY, "app", "alice", "GET", "/a", unix_now());
        let forged = impostor.assertion("app", "alice", "GET", "/a", unix_now());
        for refused in [hs256, forged] {
            let response = app(pinned.clone())
                .oneshot(request("/a", Some(&refused)))
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        }
    }

    #[test]
    fn only_an_unavailable_key_set_is_a_503() {
        use crate::{AssertionError, Unavailable};
        let status = |e: Option<&VerifyError>| refusal::<()>(e).status();
        assert_eq!(
            status(Some(&Unavailable::Unreachable.into())),
            StatusCode::SERVICE_UNAVAILABLE
        );
        for e in [
            VerifyError::UnknownKid,
            VerifyError::AlgorithmNotAllowed,
            AssertionError::Expired.into(),
        ] {
            assert_eq!(status(Some(&e)), StatusCode::UNAUTHORIZED, "{e:?}");
        }
        assert_eq!(status(None), StatusCode::UNAUTHORIZED);
    }
}
