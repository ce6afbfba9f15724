//! The tests' one HTTP/1.1 client: enough to talk to moto's own API (`/moto-api/...`), the
//! e2e router's Invoke API and the test servers of [`crate::lambda_router`]. The workspace
//! has no HTTP client crate and the tests do not add one.
//!
//! Every request is sent with `Connection: close` and the reply read to the end, so no
//! connection is reused; a `Transfer-Encoding: chunked` body is de-chunked. [`get`] and
//! [`post_json`] build well-formed requests; [`send_raw`] writes exactly the bytes it is
//! given, for a test that means to send something no well-behaved client would.
//!
//! `base` is `http://host:port` or `host:port`.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A reply: status, headers in order, body (lossily decoded as UTF-8).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// The whole reply as received (status line, headers, raw body), for messages.
    pub raw: String,
}

impl Reply {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Parse a raw reply.
    pub fn parse(raw: &[u8]) -> Reply {
        let text = String::from_utf8_lossy(raw).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        let chunked = headers.iter().any(|(k, v)| {
            k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
        });
        let body = if chunked {
            dechunk(body)
        } else {
            body.to_string()
        };
        Reply {
            status,
            headers,
            body,
            raw: text,
        }
    }
}

fn dechunk(mut rest: &str) -> String {
    let mut joined = String::new();
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || tail.len() < n {
            break;
        }
        joined.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    joined
}

fn host_port(base: &str) -> &str {
    base.trim_start_matches("http://").trim_end_matches('/')
}

/// Write exactly `bytes` to `base` and read the reply to the end, unparsed. Only for a
/// request that is deliberately not what [`request`] would send.
pub async fn send_raw(base: &str, bytes: &[u8]) -> Vec<u8> {
    let addr = host_port(base);
    let mut s = TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.write_all(bytes).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    out
}

/// One request: `method path` with these headers and (for a body) its Content-Length.
pub async fn request(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Reply {
    let host = host_port(base);
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!("Content-Length: {}\r\n", b.len()));
    }
    req.push_str("\r\n");
    if let Some(b) = body {
        req.push_str(b);
    }
    Reply::parse(&send_raw(base, req.as_bytes()).await)
}

/// `GET path`.
pub async fn get(base: &str, path: &str) -> Reply {
    request(base, "GET", path, &[], None).await
}

/// `POST path` with a JSON body (and any extra headers).
pub async fn post_json(base: &str, path: &str, body: &str, extra: &[(&str, &str)]) -> Reply {
    let mut headers = vec![("Content-Type", "application/json")];
    headers.extend_from_slice(extra);
    request(base, "POST", path, &headers, Some(body)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_chunked_replies() {
        let r = Reply::parse(b"HTTP/1.1 404 Not Found\r\nX-A: 1\r\nContent-Length: 2\r\n\r\nno");
        assert_eq!(r.status, 404);
        assert_eq!(r.header("x-a"), Some("1"));
        assert_eq!(r.body, "no");
        let r = Reply::parse(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4\r\n\":1}\r\n0\r\n\r\n",
        );
        assert_eq!(r.body, "{\"a\":1}");
        assert_eq!(r.header("content-length"), None);
    }
}
