//! The tests' one in-process HTTP server, and on it the one Lambda router.
//!
//! - [`serve`]: accept connections on a loopback listener and answer each request (read
//!   with [`read_request`]) with what an async function returns. The approval browser
//!   test builds its API Gateway stand-in on it.
//! - [`LambdaRouter`]: the Lambda Invoke API (`POST /2015-03-31/functions/<name or
//!   ARN>/invocations`) in front of in-process handlers, registered by function name.
//!   moto's Step Functions interpreter sends every service-integration call to
//!   `http://localhost:$MOTO_PORT`; start moto with `MOTO_PORT` set to the router's port
//!   ([`LambdaRouter::port`]) and a `lambda:invoke` task reaches the handler with the
//!   exact payload the ASL built. It answers as AWS does: the handler's output with 200; a
//!   handler error with 200, `X-Amz-Function-Error: Unhandled` and
//!   `{"errorType", "errorMessage"}` (the error's stable name as `errorType`, which the
//!   ASL's `ErrorEquals` matches); an unknown function with 404
//!   `ResourceNotFoundException`; anything else with 404.
//!
//! The end-to-end stack's router (`tests/e2e/router.py`, also used by `scripts/demo.sh`)
//! keeps the same Invoke contract in front of `cargo lambda watch`, and plays SageMaker.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use trainguard::ErrorName;

/// One HTTP request read off a socket.
#[derive(Debug, Clone)]
pub struct RawRequest {
    pub method: String,
    /// The request target as sent (path and query).
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawRequest {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What a handler of [`serve`] answers.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// A JSON reply.
    pub fn json(status: u16, body: &Value) -> Response {
        Response {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Read one request (headers, then a Content-Length body); None when the peer closed
/// before a whole header block.
pub async fn read_request(s: &mut TcpStream) -> Option<RawRequest> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 16384];
    let head_end = loop {
        let n = s.read(&mut tmp).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&tmp[..n]);
        if let Some(p) = find(&buf, b"\r\n\r\n") {
            break p + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split_whitespace();
    let method = first.next()?.to_string();
    let path = first.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = s.read(&mut tmp).await.ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&tmp[..n]);
    }
    let body = buf[head_end..(head_end + len).min(buf.len())].to_vec();
    Some(RawRequest {
        method,
        path,
        headers,
        body,
    })
}

/// Write a response and close the connection.
pub async fn write_response(s: &mut TcpStream, r: &Response) {
    let mut head = format!(
        "HTTP/1.1 {} X\r\nContent-Length: {}\r\nConnection: close\r\n",
        r.status,
        r.body.len()
    );
    for (k, v) in &r.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = s.write_all(head.as_bytes()).await;
    let _ = s.write_all(&r.body).await;
    let _ = s.shutdown().await;
}

/// A listener on a free loopback port.
pub async fn bind_loopback() -> TcpListener {
    TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback")
}

/// Serve every connection of `listener` (one request each) with `handle`, in the
/// background, until the runtime stops.
pub fn serve<F, Fut>(listener: TcpListener, handle: F)
where
    F: Fn(RawRequest, SocketAddr) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    let handle = Arc::new(handle);
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, peer)) = listener.accept().await else {
                return;
            };
            let handle = handle.clone();
            tokio::spawn(async move {
                let Some(req) = read_request(&mut sock).await else {
                    return;
                };
                let reply = handle(req, peer).await;
                write_response(&mut sock, &reply).await;
            });
        }
    });
}

/// A handler's failure as the Invoke API reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionError {
    /// The stable error name (`errorType`).
    pub error_type: String,
    pub message: String,
}

impl<E: ErrorName + std::fmt::Display> From<E> for FunctionError {
    fn from(e: E) -> Self {
        FunctionError {
            error_type: e.error_name().to_string(),
            message: e.to_string(),
        }
    }
}

type BoxedHandler = Arc<
    dyn Fn(Value) -> Pin<Box<dyn Future<Output = Result<Value, FunctionError>> + Send>>
        + Send
        + Sync,
>;

/// The Lambda Invoke API in front of in-process handlers (see the module docs).
pub struct LambdaRouter {
    listener: TcpListener,
    port: u16,
    functions: HashMap<String, BoxedHandler>,
    replies: Arc<Mutex<Vec<String>>>,
}

impl LambdaRouter {
    /// Bind a free loopback port (known before moto starts, for its `MOTO_PORT`).
    pub async fn bind() -> LambdaRouter {
        let listener = bind_loopback().await;
        let port = listener.local_addr().unwrap().port();
        LambdaRouter {
            listener,
            port,
            functions: HashMap::new(),
            replies: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every reply body the router gave, in order (outputs and error documents alike).
    pub fn replies(&self) -> Arc<Mutex<Vec<String>>> {
        self.replies.clone()
    }

    /// Serve function `name` with `handler` (its event in, its output or error out).
    pub fn function<F, Fut>(mut self, name: &str, handler: F) -> LambdaRouter
    where
        F: Fn(Value) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, FunctionError>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        self.functions.insert(
            name.to_string(),
            Arc::new(move |event| {
                let handler = handler.clone();
                Box::pin(async move { handler(event).await })
            }),
        );
        self
    }

    /// Start answering in the background.
    pub fn spawn(self) {
        let functions = Arc::new(self.functions);
        let replies = self.replies;
        serve(self.listener, move |req, _| {
            let functions = functions.clone();
            let replies = replies.clone();
            async move {
                let reply = route(&functions, &req).await;
                replies
                    .lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&reply.body).into_owned());
                reply
            }
        });
    }
}

/// The function name of an Invoke path: a plain name, or the name inside a function ARN
/// (`arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]`, URL-encoded or not).
pub fn invoked_function(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/2015-03-31/functions/")?;
    let (target, tail) = rest.split_once('/')?;
    if !tail.starts_with("invocations") {
        return None;
    }
    let target = target.replace("%3A", ":").replace("%3a", ":");
    Some(match target.strip_prefix("arn:") {
        Some(_) => target.split(':').nth(6)?.to_string(),
        None => target,
    })
}

async fn route(functions: &HashMap<String, BoxedHandler>, req: &RawRequest) -> Response {
    let name = match invoked_function(&req.path) {
        Some(n) if req.method == "POST" => n,
        _ => {
            return Response::json(
                404,
                &json!({"message": format!("test router: unexpected {} {}", req.method, req.path)}),
            )
        }
    };
    let Some(handler) = functions.get(&name) else {
        let mut r = Response::json(
            404,
            &json!({"Type": "User", "message": format!("Function not found: {name}")}),
        );
        r.headers.push((
            "X-Amzn-ErrorType".into(),
            "ResourceNotFoundException".into(),
        ));
        return r;
    };
    let event: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    match handler(event).await {
        Ok(out) => Response::json(200, &out),
        Err(e) => {
            let mut r = Response::json(
                200,
                &json!({"errorType": e.error_type, "errorMessage": e.message}),
            );
            r.headers
                .push(("X-Amz-Function-Error".into(), "Unhandled".into()));
            r
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_arns_name_the_function() {
        let f = |p| invoked_function(p);
        assert_eq!(
            f("/2015-03-31/functions/approval-handler/invocations").as_deref(),
            Some("approval-handler")
        );
        assert_eq!(
            f("/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:x:live/invocations")
                .as_deref(),
            Some("x")
        );
        assert_eq!(
            f("/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Ay/invocations")
                .as_deref(),
            Some("y")
        );
        assert_eq!(f("/moto-api/data.json"), None);
    }

    #[tokio::test]
    async fn answers_like_the_invoke_api() {
        #[derive(Debug)]
        struct Boom;
        impl std::fmt::Display for Boom {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("it broke")
            }
        }
        impl ErrorName for Boom {
            fn error_name(&self) -> &'static str {
                "Test.Boom"
            }
        }
        let router = LambdaRouter::bind()
            .await
            .function("echo", |v| async move { Ok(v) })
            .function("boom", |_| async { Err(Boom.into()) });
        let base = format!("127.0.0.1:{}", router.port());
        let replies = router.replies();
        router.spawn();
        let path = |f: &str| format!("/2015-03-31/functions/{f}/invocations");

        let ok = crate::http_client::post_json(&base, &path("echo"), r#"{"a":1}"#, &[]).await;
        assert_eq!((ok.status, ok.body.as_str()), (200, r#"{"a":1}"#));
        assert_eq!(ok.header("x-amz-function-error"), None);

        let err = crate::http_client::post_json(&base, &path("boom"), "{}", &[]).await;
        assert_eq!(err.status, 200);
        assert_eq!(err.header("X-Amz-Function-Error"), Some("Unhandled"));
        let doc: Value = serde_json::from_str(&err.body).unwrap();
        assert_eq!(
            doc,
            json!({"errorType": "Test.Boom", "errorMessage": "it broke"})
        );

        let missing = crate::http_client::post_json(&base, &path("nope"), "{}", &[]).await;
        assert_eq!(missing.status, 404);
        let other = crate::http_client::get(&base, "/elsewhere").await;
        assert_eq!(other.status, 404);
        assert_eq!(replies.lock().unwrap().len(), 4);
    }
}
