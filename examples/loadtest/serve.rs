//! HTTP on loopback: the feeds (ETag and `304 Not Modified`) and the webhook receiver that
//! records each alert.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::news::{Shared, item_key, render_feed};

pub fn etag_matches(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim() == etag || t.trim() == "*")
}

pub async fn serve_feed(
    State(s): State<Arc<Shared>>,
    UrlPath(file): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    s.c.requests.fetch_add(1, Relaxed);
    let Some(idx) = file
        .strip_suffix(".xml")
        .and_then(|i| i.parse::<usize>().ok())
        .filter(|i| *i < s.feeds.len())
    else {
        s.c.not_found.fetch_add(1, Relaxed);
        return StatusCode::NOT_FOUND.into_response();
    };
    let now = Instant::now();
    let sent_validator = headers.contains_key(header::IF_NONE_MATCH);
    let mut f = s.feeds[idx].lock().unwrap();
    if let Some(prev) = f.last_request.replace(now) {
        let gap = now.duration_since(prev).as_millis().min(u32::MAX as u128) as u32;
        s.gaps_ms.lock().unwrap().push(gap);
    }
    let etag = format!("\"f{idx}-v{}\"", f.version);
    if etag_matches(&headers, &etag) {
        drop(f);
        s.c.not_modified.fetch_add(1, Relaxed);
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    let body = render_feed(idx, &f, s.farm.as_ref());
    let first = f.first_served.is_none();
    if first {
        f.first_served = Some(now);
        f.baseline_n = Some(f.next_n);
        s.c.ok_first.fetch_add(1, Relaxed);
        if s.c.feeds_first_served.fetch_add(1, Relaxed) + 1 == s.feeds.len() as u64 {
            *s.all_first_served_at.lock().unwrap() = Some(now);
        }
    } else if sent_validator {
        s.c.ok_changed.fetch_add(1, Relaxed);
    } else {
        // A repeat fetch without If-None-Match: the daemon forgot (or never sent) the ETag.
        s.c.ok_stale_etag.fetch_add(1, Relaxed);
    }
    let mut new_seen = 0;
    let newly: Vec<u64> = f
        .items
        .iter_mut()
        .filter(|it| !it.served)
        .map(|it| {
            it.served = true;
            new_seen += 1;
            if it.matching { it.n } else { u64::MAX }
        })
        .filter(|n| *n != u64::MAX)
        .collect();
    if !first {
        s.c.new_served.fetch_add(new_seen, Relaxed);
    }
    if !newly.is_empty() {
        let mut recs = s.records.lock().unwrap();
        for n in newly {
            if let Some(r) = recs.get_mut(&item_key(idx, n)) {
                r.served.get_or_insert(now);
            }
        }
    }
    drop(f);
    s.c.bytes.fetch_add(body.len() as u64, Relaxed);
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/rss+xml; charset=utf-8")
        .header(header::ETAG, etag)
        .body(Body::from(body))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

pub async fn receive_hook(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let now = Instant::now();
    let id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    s.c.hook_requests.fetch_add(1, Relaxed);
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let Some(key) = json
        .get("data")
        .and_then(|d| d.get("item_key"))
        .and_then(|k| k.as_str())
    else {
        s.c.hook_unparsable.fetch_add(1, Relaxed);
        return StatusCode::OK;
    };
    s.c.hook_alerts.fetch_add(1, Relaxed);
    let mut recs = s.records.lock().unwrap();
    match recs.get_mut(key) {
        Some(r) if r.received.is_some() => {
            s.c.hook_duplicates.fetch_add(1, Relaxed);
            if r.key != id {
                s.c.hook_new_key.fetch_add(1, Relaxed);
            }
        }
        Some(r) => {
            r.received = Some(now);
            r.key = id;
            if !r.expected {
                s.c.hook_unexpected.fetch_add(1, Relaxed);
                note_unexpected(&s, key);
            }
        }
        None => {
            // An initial (baselined) item, or a key we never made.
            s.c.hook_unexpected.fetch_add(1, Relaxed);
            note_unexpected(&s, key);
        }
    }
    StatusCode::OK
}

pub fn note_unexpected(s: &Shared, key: &str) {
    let mut keys = s.unexpected_keys.lock().unwrap();
    if keys.len() < 10 {
        keys.push(key.to_string());
    }
}

pub async fn bind_loopback() -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind("127.0.0.1:0").await
}
