//! What every request to the status listener must show, and what every answer carries.
//!
//! Owns [`loopback_names_only`] and [`headers`], the two middlewares [`crate::ops::http::router`]
//! wraps every route in. No types cross this boundary.
//!
//! Without a `listen_token` (allowed on a loopback address only) the listener trusted whoever
//! reached it: a web page the operator opened could point its own name at 127.0.0.1 (DNS
//! rebinding) and read `/api/status`, the page and `/metrics` as its own origin. A browser
//! always names the host it thinks it talks to, so such a request is refused unless it names
//! `localhost` or a loopback address.

use std::net::IpAddr;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::ops::http::HttpState;
use crate::store::Store;

/// Refuses (421) a request naming a host other than `localhost` or a loopback address when no
/// `listen_token` is set. With a token, the token is what lets a request in.
pub async fn loopback_names_only<S: Store>(
    State(st): State<HttpState<S>>,
    req: Request,
    next: Next,
) -> Response {
    let open = st.plan.borrow().daemon.listen_token.is_none();
    // A `Host` that is not text names no loopback host either: refused like any other name.
    let named = match req.headers().get(header::HOST) {
        Some(h) => Some(h.to_str().unwrap_or("")),
        None => req.uri().host(),
    };
    match named {
        Some(host) if open && !is_loopback_name(host) => (
            StatusCode::MISDIRECTED_REQUEST,
            "without a listen_token this listener answers only requests to localhost or a \
             loopback address (set listen_token to reach it under another name)\n",
        )
            .into_response(),
        _ => next.run(req).await,
    }
}

/// `localhost`, `127.0.0.1`, `[::1]`, with or without a port.
fn is_loopback_name(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    let name = name.strip_suffix('.').unwrap_or(name);
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Headers on every answer: nothing in it is a script or may be framed or sniffed as one, and
/// nothing (the token-guarded page and API above all) is kept by a cache.
pub async fn headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; \
             base-uri 'none'; form-action 'none'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::is_loopback_name;

    #[test]
    fn loopback_names_are_localhost_and_loopback_addresses() {
        for ok in [
            "localhost",
            "LOCALHOST:9480",
            "localhost.:9480",
            "127.0.0.1",
            "127.0.0.1:9480",
            "127.1.2.3:80",
            "[::1]:9480",
            "[::1]",
        ] {
            assert!(is_loopback_name(ok), "{ok}");
        }
        for no in [
            "evil.example:9480",
            "evil.example",
            "localhost.evil.example",
            "10.0.0.1:9480",
            "[::2]:9480",
            "0.0.0.0:9480",
            "",
        ] {
            assert!(!is_loopback_name(no), "{no}");
        }
    }
}
