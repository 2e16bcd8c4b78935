//! A tower layer that admits only requests with a valid assertion.
//!
//! A request whose `Sessiongate-Assertion` is missing or does not verify for
//! its own method and path is answered `401` with an empty body; the inner
//! service never sees it. Otherwise the [`Identity`] is put into the
//! request's extensions (axum: `Extension<Identity>`).
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

use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::future::{ready, Either, Ready};
use http::{header, HeaderValue, Request, Response, StatusCode};
use tower_layer::Layer;
use tower_service::Service;

use crate::{Identity, Verifier, ASSERTION_HEADER};

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

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Sessiongate<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = Either<Ready<Result<Response<ResBody>, S::Error>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        match identify(&self.verifier, &req) {
            Some(identity) => {
                req.extensions_mut().insert(identity);
                Either::Right(self.inner.call(req))
            }
            None => Either::Left(ready(Ok(unauthorized()))),
        }
    }
}

fn identify<B>(verifier: &Verifier, req: &Request<B>) -> Option<Identity> {
    let assertion = req.headers().get(ASSERTION_HEADER)?.to_str().ok()?;
    let path_and_query = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.uri().path(), |pq| pq.as_str());
    verifier
        .verify_now(assertion, req.method().as_str(), path_and_query)
        .ok()
}

fn unauthorized<B: Default>() -> Response<B> {
    let mut response = Response::new(B::default());
    *response.status_mut() = StatusCode::UNAUTHORIZED;
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_assertion;
    use std::convert::Infallible;
    use std::time::{SystemTime, UNIX_EPOCH};
    use tower::{service_fn, ServiceExt};

    const KEY: &str = "assertion-key-of-at-least-32-chars";

    fn app() -> Sessiongate<
        impl Service<Request<()>, Response = Response<String>, Error = Infallible> + Clone,
    > {
        let verifier = Verifier::new(KEY, "app").unwrap();
        SessiongateLayer::new(verifier).layer(service_fn(|req: Request<()>| async move {
            let identity = req
                .extensions()
                .get::<Identity>()
                .cloned()
                .expect("the layer sets the identity");
            Ok::<_, Infallible>(Response::new(identity.sub))
        }))
    }

    fn now() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
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
        let assertion = test_assertion(KEY, "app", "alice", "GET", "/a?b=1", now());
        let response = app()
            .oneshot(request("/a?b=1", Some(&assertion)))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.into_body(), "alice");
    }

    #[tokio::test]
    async fn answers_401_to_missing_garbled_or_misdirected_assertions() {
        let other_path = test_assertion(KEY, "app", "alice", "GET", "/other", now());
        for assertion in [None, Some("garbage"), Some(other_path.as_str())] {
            let response = app().oneshot(request("/a", assertion)).await.unwrap();
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{assertion:?}");
            assert_eq!(response.into_body(), "");
        }
    }
}
