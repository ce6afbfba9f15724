//! The approval page's decision post as API Gateway HTTP API (v2) delivers it: the
//! body (url-encoded form, JSON, or anything under another content type), base64
//! encoded when `isBase64Encoded` says so, then the decision word, and the
//! cross-site check on the browser headers.
//!
//! The first byte picks the content type and the base64 flag (and whether browser
//! headers are sent); the rest is the body. Bodies are strings in the event JSON, so
//! the bytes are read as UTF-8 lossily, as the runtime would refuse anything else.
#![no_main]

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use libfuzzer_sys::fuzz_target;
use trainguard::approval::http::{cross_site_check, parse_decision_body};
use trainguard::approval::Decision;
use trainguard_fuzz::BoundedAlloc;

#[global_allocator]
static ALLOC: BoundedAlloc = BoundedAlloc;

const CONTENT_TYPES: [&str; 8] = [
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=UTF-8",
    "application/json",
    "Application/JSON; charset=utf-8",
    "",
    "text/plain",
    "multipart/form-data; boundary=x",
    "APPLICATION/X-WWW-FORM-URLENCODED",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let body = String::from_utf8_lossy(body).into_owned();
    let mut req = ApiGatewayV2httpRequest::default();
    let ctype = CONTENT_TYPES[usize::from(pick & 0b111)];
    if !ctype.is_empty() || pick & 0b1000_0000 != 0 {
        if let Ok(v) = http::HeaderValue::from_str(ctype) {
            req.headers.insert(http::header::CONTENT_TYPE, v);
        }
    }
    req.is_base64_encoded = pick & 0b1000 != 0;
    if pick & 0b10_0000 != 0 {
        // A browser's post: the page's origin, or (bit 6) another site.
        let origin = if pick & 0b100_0000 == 0 {
            "https://approvals.example.com"
        } else {
            "https://evil.example.net"
        };
        req.headers
            .insert(http::header::ORIGIN, http::HeaderValue::from_static(origin));
        req.headers.insert(
            "sec-fetch-site",
            http::HeaderValue::from_static("same-origin"),
        );
    }
    req.body = (pick & 0b1_0000 == 0 || !body.is_empty()).then_some(body);
    if let Ok((form, _is_form)) = parse_decision_body(&req) {
        if let Some(d) = form.decision.as_deref() {
            let _ = Decision::parse(d);
        }
        let _ = form.comment.trim();
    }
    let _ = cross_site_check(&req.headers, Some("https://approvals.example.com"));
    let _ = cross_site_check(&req.headers, None);
});
