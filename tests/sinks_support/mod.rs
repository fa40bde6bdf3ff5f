//! Helpers for the chat sink tests: sinks built from configuration text, the seed-article alert
//! and a hostile one, and a scriptable fake chat server on 127.0.0.1:0 that refuses, as each
//! platform does, what is over its limits ([`limits`]).

#![allow(dead_code)]

pub mod limits;

/// The idempotency key the sink tests send under.
pub const KEY: &str = "nw_0123456789abcdef0123456789abcdef";

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{TimeZone, Utc};
use newswatch::deliver::sink::{MemoryOnly, SinkMemory};
use newswatch::deliver::{Alert, AlertSnippet, Sink, build_sink};
use newswatch::feed::parse::{Parsed, parse};
use newswatch::plan::load_str;

/// The sink of a one-sink configuration (`[[sink]]` body without the name line).
pub fn sink_with(body: &str, memory: Arc<dyn SinkMemory>) -> Arc<dyn Sink> {
    let text = format!("[[sink]]\nname = \"chat\"\n{body}\n");
    let plan = load_str(Path::new("sinks-test.toml"), text)
        .unwrap_or_else(|e| panic!("config should load:\n{e}"));
    // The daemon's own client policy (no redirects, its time limits).
    let client = newswatch::deliver::http::client("newswatch-test").expect("client");
    build_sink(&plan.sinks[0], &client, memory).unwrap_or_else(|e| panic!("{e}"))
}

pub fn sink(body: &str) -> Arc<dyn Sink> {
    sink_with(body, Arc::new(MemoryOnly::default()))
}

/// One configuration per sink type, all pointing at `base` (a local server or a dummy).
pub fn all_sinks(base: &str) -> Vec<(&'static str, Arc<dyn Sink>)> {
    vec![
        (
            "slack",
            sink(&format!("type = \"slack\"\nurl = \"{base}/slack\"")),
        ),
        (
            "mattermost",
            sink(&format!("type = \"mattermost\"\nurl = \"{base}/mm\"")),
        ),
        (
            "discord",
            sink(&format!("type = \"discord\"\nurl = \"{base}/discord\"")),
        ),
        (
            "teams",
            sink(&format!("type = \"teams\"\nurl = \"{base}/teams\"")),
        ),
        (
            "googlechat",
            sink(&format!("type = \"googlechat\"\nurl = \"{base}/gchat\"")),
        ),
        (
            "matrix",
            sink(&format!(
                "type = \"matrix\"\nhomeserver = \"{base}\"\nroom = \"!room:example.org\"\naccess_token = \"syt_token\""
            )),
        ),
        (
            "telegram",
            sink(&format!(
                "type = \"telegram\"\napi_base = \"{base}\"\nbot_token = \"123:ABC\"\nchat_id = -100123"
            )),
        ),
        (
            "ntfy",
            sink(&format!(
                "type = \"ntfy\"\nserver = \"{base}\"\ntopic = \"news\"\ntags = [\"newspaper\"]\npriority = 4"
            )),
        ),
    ]
}

/// The seed article as the `dprk-troops` watch matches it, at fixed times.
pub fn seed_alert() -> Alert {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/seed.rss"
    ))
    .expect("seed.rss");
    let item = match parse(&bytes, None, None) {
        Ok(Parsed::Feed(f)) => f.items.into_iter().next().expect("one item"),
        other => panic!("seed.rss should parse: {other:?}"),
    };
    let plan = load_str(
        Path::new("seed.toml"),
        "[[watch]]\nname = \"dprk-troops\"\nterms = [\"North Korean troops\", \"North Korean soldiers\"]\n\
         [[sink]]\nname = \"out\"\ntype = \"stdout\"\n"
            .to_string(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let m = plan
        .watches
        .matches(&item, None)
        .into_iter()
        .next()
        .expect("the seed matches");
    let now = Utc.with_ymd_and_hms(2024, 10, 20, 9, 41, 0).unwrap();
    Alert::new("dprk-troops", "demo-world", &item, &m, now)
}

pub const HOSTILE_TITLE: &str =
    "<!channel> @everyone @room <users/all> <b>x</b> & \"quotes\" .@channel x.@all _@here";

/// An item written to break out: mentions and markup in the title, a 10,000-character
/// snippet full of them, a link with characters that end links in some markups.
pub fn hostile_alert() -> Alert {
    let unit = "<!here> @here @channel @all <@U123> <users/all> <at>Ann</at> <b>x</b> [x](javascript:y) *b* _i_ `c` ";
    let mut text = String::new();
    while text.chars().count() < 10_000 {
        text.push_str(unit);
        text.push_str("North Korean troops ");
    }
    let text: String = text.chars().take(10_000).collect();
    let term = "North Korean troops";
    let marks = text
        .match_indices(term)
        .map(|(i, _)| (i, i + term.len()))
        .collect();
    let mut a = seed_alert();
    a.title = HOSTILE_TITLE.to_string();
    a.link = Some("https://example.org/a|b>c(d)".into());
    a.snippet = AlertSnippet { text, marks };
    a
}

/// Every string in a JSON value.
pub fn strings(v: &serde_json::Value) -> Vec<&str> {
    let mut out = Vec::new();
    fn walk<'a>(v: &'a serde_json::Value, out: &mut Vec<&'a str>) {
        match v {
            serde_json::Value::String(s) => out.push(s),
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            serde_json::Value::Object(o) => o.values().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    walk(v, &mut out);
    out
}

/// Mentions of everyone in a room, on any platform (`@all` and `@channel` on Mattermost,
/// `@everyone` and `@here` on Discord, `@room` on Matrix).
pub const AT_MENTIONS: &[&str] = &["@everyone", "@channel", "@here", "@room", "@all"];

/// One request the fake server got.
#[derive(Debug, Clone)]
pub struct Got {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
    pub body: serde_json::Value,
    pub at: std::time::Instant,
    /// Why the platform would refuse this request (the fake answered with its error instead of
    /// the scripted answer), if it would.
    pub refused: Option<String>,
}

/// How the fake answers: request number and request → (status, headers, body).
pub type Answer = Box<dyn Fn(usize, &Got) -> (u16, Vec<(&'static str, String)>, String) + Send>;

struct FakeInner {
    got: Vec<Got>,
    answer: Answer,
}

/// A chat server double: records every request on any path and answers as scripted.
#[derive(Clone)]
pub struct Fake {
    pub addr: SocketAddr,
    inner: Arc<Mutex<FakeInner>>,
}

async fn handle(
    State(inner): State<Arc<Mutex<FakeInner>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut got = Got {
        method: method.to_string(),
        path: uri.path().to_string(),
        query: uri.query().unwrap_or_default().to_string(),
        headers,
        body: serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
        at: std::time::Instant::now(),
        refused: None,
    };
    let refusal = limits::refusal(&got.path, &got.query, &got.body, body.len());
    got.refused = refusal.as_ref().map(|(_, why)| why.clone());
    let (status, hdrs, text) = {
        let mut g = inner.lock().unwrap();
        let n = g.got.len();
        g.got.push(got.clone());
        match refusal {
            Some((status, why)) => (status, vec![], why),
            None => (g.answer)(n, &got),
        }
    };
    let mut resp = (
        StatusCode::from_u16(status).unwrap(),
        [("content-type", "application/json")],
        text,
    )
        .into_response();
    for (k, v) in hdrs {
        resp.headers_mut().insert(k, v.parse().unwrap());
    }
    resp
}

impl Fake {
    pub async fn start(answer: Answer) -> Fake {
        let inner = Arc::new(Mutex::new(FakeInner {
            got: Vec::new(),
            answer,
        }));
        let app = Router::new().fallback(handle).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Fake { addr, inner }
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn got(&self) -> Vec<Got> {
        self.inner.lock().unwrap().got.clone()
    }
}

/// What Discord answers a webhook of a forum or media channel: a post needs `thread_id` (query)
/// or `thread_name` (body), else 400 with Discord's error shape; otherwise the created message.
pub fn discord_forum(got: &Got) -> (u16, Vec<(&'static str, String)>, String) {
    let has_thread_id = got.query.split('&').any(|p| p.starts_with("thread_id="));
    let has_thread_name = got.body["thread_name"]
        .as_str()
        .is_some_and(|n| !n.trim().is_empty() && n.chars().count() <= 100);
    if has_thread_id || has_thread_name {
        (200, vec![], r#"{"id": "1", "channel_id": "2"}"#.into())
    } else {
        (
            400,
            vec![],
            r#"{"message": "Webhooks posted to forum channels must have a thread_name or thread_id", "code": 220001}"#
                .into(),
        )
    }
}
