//! What a sink makes of a receiver's reply: success, retry hints, the bounded body read, the
//! client's no-redirect policy and URL-free network errors. Written against mutation testing
//! (docs/testing.md): each test pins a decision a mutant of `http.rs` changed unnoticed.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;

fn reply_with(status: u16, headers: &[(&'static str, &str)], text: &str) -> Reply {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.insert(*name, HeaderValue::from_str(value).unwrap());
    }
    Reply {
        status,
        headers: map,
        text: text.into(),
        complete: true,
    }
}

/// A one-connection HTTP server on 127.0.0.1: it reads the request head, then writes `head` and
/// each of `chunks` with a pause between them, so the client sees them as separate reads.
async fn serve_once(head: String, chunks: Vec<Vec<u8>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let Ok((mut socket, _)) = listener.accept().await else {
            return;
        };
        let mut request = Vec::new();
        let mut buf = [0u8; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => request.extend_from_slice(&buf[..n]),
            }
        }
        let _ = socket.write_all(head.as_bytes()).await;
        for chunk in chunks {
            let _ = socket.flush().await;
            tokio::time::sleep(Duration::from_millis(100)).await;
            let _ = socket.write_all(&chunk).await;
        }
        let _ = socket.shutdown().await;
    });
    format!("http://{addr}/hook/SECRET-TOKEN-123")
}

#[test]
fn success_is_exactly_the_2xx_range() {
    for status in [200, 201, 204, 299] {
        assert!(reply_with(status, &[], "").success(), "{status}");
    }
    for status in [199, 300, 302, 404, 429, 500] {
        assert!(!reply_with(status, &[], "").success(), "{status}");
    }
}

#[test]
fn the_json_of_a_reply_is_its_parsed_body() {
    let r = reply_with(200, &[], r#"{"ok": true, "result": {"message_id": 7}}"#);
    assert_eq!(r.json().unwrap()["result"]["message_id"], 7);
    assert_eq!(reply_with(200, &[], "not json").json(), None);
}

#[test]
fn an_ok_reply_keeps_its_status_and_a_trimmed_300_character_detail() {
    let long = format!("  {}  ", "x".repeat(1000));
    let ok = reply_with(202, &[], &long).ok();
    assert_eq!(ok.status, Some(202));
    assert_eq!(ok.detail, "x".repeat(300));
}

#[test]
fn retry_after_header_is_read_and_capped_at_the_longest_hint() {
    assert_eq!(
        reply_with(429, &[("retry-after", "7")], "").retry_after_header(),
        Some(Duration::from_secs(7))
    );
    assert_eq!(
        reply_with(429, &[("retry-after", "999999999")], "").retry_after_header(),
        Some(MAX_HINT)
    );
    assert_eq!(reply_with(429, &[], "").retry_after_header(), None);
}

#[test]
fn fractional_header_seconds_are_read() {
    let r = reply_with(429, &[("x-ratelimit-reset-after", " 1.5 ")], "");
    assert_eq!(
        r.header_seconds("x-ratelimit-reset-after"),
        Some(Duration::from_millis(1500))
    );
    assert_eq!(r.header_seconds("x-missing"), None);
    let bad = reply_with(429, &[("x-ratelimit-reset-after", "soon")], "");
    assert_eq!(bad.header_seconds("x-ratelimit-reset-after"), None);
}

#[test]
fn zero_seconds_is_a_valid_hint() {
    assert_eq!(seconds(0.0), Some(Duration::ZERO));
    assert_eq!(seconds(2.0), Some(Duration::from_secs(2)));
}

/// A 2xx is delivered; anything else is the classified error, not a success.
#[test]
fn outcome_is_ok_only_for_a_2xx() {
    let ok = outcome(reply_with(200, &[], "fine"), &[]).unwrap();
    assert_eq!(ok.detail, "fine");
    let e = outcome(reply_with(503, &[("retry-after", "3")], "busy"), &[]).unwrap_err();
    assert_eq!(
        e,
        SendError::Retryable {
            message: "HTTP 503: busy".into(),
            retry_after: Some(Duration::from_secs(3)),
        }
    );
}

/// The platform's own hint wins over `Retry-After`; the reply body is redacted.
#[test]
fn classify_prefers_the_platform_hint_and_redacts_the_body() {
    let r = reply_with(429, &[("retry-after", "3")], "slow down, tok3n-abcdef");
    let e = classify(&r, Some(Duration::from_secs(9)), &["tok3n-abcdef"]);
    assert_eq!(
        e,
        SendError::Retryable {
            message: "HTTP 429: slow down, [redacted]".into(),
            retry_after: Some(Duration::from_secs(9)),
        }
    );
    let e = classify(&reply_with(404, &[], "no such hook"), None, &[]);
    assert_eq!(e, SendError::permanent("HTTP 404: no such hook"));
}

/// A relative `Location` is shown as its path, without the query that may carry a token.
#[test]
fn a_relative_redirect_location_loses_its_query() {
    let r = reply_with(307, &[("location", "/login?token=abc#frag")], "");
    let e = classify(&r, None, &[]);
    assert!(e.to_string().contains("redirects to /login;"), "{e}");
    assert!(!e.to_string().contains("abc"), "{e}");
}

/// The shared client never follows a redirect: a 302 is what the sink sees.
#[tokio::test]
async fn the_sink_client_does_not_follow_redirects() {
    let url = serve_once(
        "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:9/elsewhere\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            .into(),
        vec![],
    )
    .await;
    let c = client("newswatch-test").unwrap();
    let reply = execute(c.post(url)).await.unwrap();
    assert_eq!(reply.status, 302);
}

/// The body is read in chunks up to 64 KiB, then no further: a hostile receiver cannot make a
/// sink buffer megabytes, and a platform's long answer (the whole message echoed) still gives
/// its message id. Chunks of 16 KiB, 100 ms apart.
#[tokio::test]
async fn a_reply_body_is_read_to_64_kib_and_no_further() {
    let chunks: Vec<Vec<u8>> = (0..6).map(|i| vec![b'a' + i; 16 * 1024]).collect();
    let url = serve_once(
        "HTTP/1.1 500 Oops\r\nContent-Length: 98304\r\nConnection: close\r\n\r\n".into(),
        chunks,
    )
    .await;
    let c = client("newswatch-test").unwrap();
    let reply = execute(c.post(url)).await.unwrap();
    assert_eq!(reply.status, 500);
    assert_eq!(reply.text.len(), 64 * 1024);
}

/// A network error is retryable and names its cause, never the URL (which holds the token).
#[tokio::test]
async fn a_refused_connection_is_retryable_with_its_cause_and_no_url() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let c = client("newswatch-test").unwrap();
    let e = execute(c.post(format!("http://{addr}/hook/SECRET-TOKEN-123")))
        .await
        .unwrap_err();
    let SendError::Retryable { message, .. } = &e else {
        panic!("a refused connection is retried: {e:?}");
    };
    assert!(message.starts_with("request failed: "), "{message}");
    // The cause chain is there (reqwest's "error sending request" and the OS error below it).
    assert!(message.len() > "request failed: ".len() + 20, "{message}");
    assert!(message.contains(": "), "{message}");
    assert!(!message.contains("SECRET-TOKEN"), "{message}");
}

/// A 2xx that does not name the message is a proxy's page, retried; one cut at the read cap
/// (Telegram echoes the whole message) cannot be judged and is the send it answered: retried,
/// it would post the message again.
#[test]
fn a_reply_without_the_message_id_is_retried_unless_it_was_cut() {
    let page = reply_with(
        200,
        &[("content-type", "text/html")],
        "<html>maintenance</html>",
    );
    assert!(matches!(
        page.ok_naming("/result/message_id", "Telegram", "message_id"),
        Err(SendError::Retryable { .. })
    ));
    let cut = Reply {
        complete: false,
        ..reply_with(200, &[], "{\"ok\":true,\"result\":{\"text\":\"...")
    };
    let ok = cut.ok_naming("/result/message_id", "Telegram", "message_id");
    assert!(matches!(ok, Ok(ref s) if s.message_ref.is_none()), "{ok:?}");
    let named = reply_with(200, &[], "{\"ok\":true,\"result\":{\"message_id\":7}}");
    let ok = named.ok_naming("/result/message_id", "Telegram", "message_id");
    assert_eq!(ok.ok().and_then(|s| s.message_ref).as_deref(), Some("7"));
}

/// A proxy's maintenance page answered 200 in front of Slack, Mattermost, Teams, Google Chat or
/// ntfy counted as delivered: the alert was lost unseen. A web page (by its body) is retried;
/// the platforms' own answers ("ok", "1", JSON, nothing) are not pages, whatever their type.
#[test]
fn a_web_page_answered_2xx_is_retried() {
    let pages = [
        reply_with(
            200,
            &[("content-type", "text/html; charset=utf-8")],
            "<!doctype html><p>Down for maintenance</p>",
        ),
        reply_with(200, &[], "\u{FEFF}\n  <!DOCTYPE html><title>Login</title>"),
        reply_with(
            202,
            &[("content-type", "text/plain")],
            "<HTML><body>Portal</body></HTML>",
        ),
        reply_with(200, &[], "<body>Portal</body>"),
    ];
    for page in pages {
        assert!(page.page(), "{page:?}");
        let e = chat_outcome(page.clone(), "Slack", &[]).unwrap_err();
        assert!(matches!(e, SendError::Retryable { .. }), "{e:?}");
        assert!(e.to_string().contains("not Slack's answer"), "{e}");
        assert!(
            !e.to_string().contains("maintenance")
                && !e.to_string().contains("Portal")
                && !e.to_string().contains("Login"),
            "the page is not quoted: {e}"
        );
    }
    // Slack answers its successes `ok` as `text/html`: a page by its type, not by its body.
    let answers = [
        reply_with(200, &[("content-type", "text/html")], "ok"),
        reply_with(200, &[("content-type", "text/plain")], "ok"),
        reply_with(200, &[], "1"),
        reply_with(202, &[], ""),
        reply_with(
            200,
            &[("content-type", "application/json")],
            "{\"id\":\"x\"}",
        ),
        reply_with(200, &[], "ok <html> inside"),
    ];
    for answer in answers {
        assert!(!answer.page(), "{answer:?}");
        assert!(chat_outcome(answer, "Slack", &[]).is_ok());
    }
    // The webhook's receiver is the operator's own code: its page is its answer.
    let page = reply_with(200, &[("content-type", "text/html")], "<html>thanks</html>");
    assert!(outcome(page, &[]).is_ok());
}

/// Last session's page check knew pages by their doctype or first tag only: a maintenance
/// page with an XML prolog, a comment first, a bare `<div>` or in UTF-16 still counted as
/// delivered in front of Slack, Mattermost or Teams. Any markup is a page there.
#[test]
fn a_page_opening_otherwise_than_html_is_retried_too() {
    fn utf16(s: &str, big_endian: bool) -> String {
        let mut bytes = if big_endian {
            vec![0xFE, 0xFF]
        } else {
            vec![0xFF, 0xFE]
        };
        for unit in s.encode_utf16() {
            let pair = if big_endian {
                unit.to_be_bytes()
            } else {
                unit.to_le_bytes()
            };
            bytes.extend_from_slice(&pair);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }
    let bodies = [
        "<?xml version=\"1.0\"?>\n<html xmlns=\"http://www.w3.org/1999/xhtml\">Down</html>"
            .to_string(),
        "<!-- generated by the proxy -->\n<!DOCTYPE html><p>Down</p>".to_string(),
        "<div class=\"maintenance\">Back soon</div>".to_string(),
        "\r\n\t<title>Sign in</title>".to_string(),
        utf16("<!DOCTYPE html><p>Down</p>", false),
        utf16("<html>Down</html>", true),
    ];
    for body in bodies {
        let page = reply_with(200, &[], &body);
        assert!(page.page(), "{body:?}");
        let e = chat_outcome(page, "Mattermost", &[]).unwrap_err();
        assert!(matches!(e, SendError::Retryable { .. }), "{body:?}: {e:?}");
    }
}

/// Google Chat and ntfy name the message in every success: a 2xx without the name is no
/// answer of theirs (a proxy's JSON error page) and is retried.
#[test]
fn outcome_naming_wants_the_name() {
    let named = reply_with(200, &[], r#"{"name": "spaces/a/messages/b"}"#);
    let ok = outcome_naming(named, "/name", "Google Chat", "message name", &[]).unwrap();
    assert_eq!(ok.message_ref.as_deref(), Some("spaces/a/messages/b"));
    let bare = reply_with(
        200,
        &[("content-type", "application/json")],
        r#"{"status":"up"}"#,
    );
    let e = outcome_naming(bare, "/id", "ntfy", "message id", &[]).unwrap_err();
    assert!(matches!(e, SendError::Retryable { .. }), "{e:?}");
    assert!(
        e.to_string()
            .contains("without the message id every ntfy answer names"),
        "{e}"
    );
    let refused = reply_with(403, &[], "forbidden");
    let e = outcome_naming(refused, "/id", "ntfy", "message id", &[]).unwrap_err();
    assert!(matches!(e, SendError::Permanent { .. }), "{e:?}");
}
