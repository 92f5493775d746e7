//! hyper answers a request it cannot parse (bad syntax 400, URI over 64 KiB
//! 414, head over its buffer 431) by itself, with an empty body, and never
//! calls the service, so no axum layer can envelope it. The socket wrapper
//! recognises that answer as it is written and sends this instead.
//!
//! Only a write that is exactly such an answer qualifies, and only while no
//! request is being served and bytes have arrived that reached no handler
//! (`Activity::unanswered`); every error the service itself answers has a
//! JSON body, so it never looks like this.

use axum::http::StatusCode;

/// The enveloped replacement for hyper's own answer in `buf`, if it is one.
pub fn envelope(buf: &[u8]) -> Option<Vec<u8>> {
    let head = std::str::from_utf8(buf).ok()?;
    let head = head.strip_suffix("\r\n\r\n")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let code = status_line.strip_prefix("HTTP/1.1 ")?.get(..3)?;
    let status = StatusCode::from_bytes(code.as_bytes()).ok()?;
    let mut empty = false;
    let mut date = None;
    for line in lines {
        let (name, value) = line.split_once(": ")?;
        match name {
            "content-length" => empty = value == "0",
            "connection" if value == "close" => {}
            "date" => date = Some(value),
            _ => return None,
        }
    }
    if !status.is_client_error() || !empty {
        return None;
    }
    let body = rocket_http::error::status_body(status);
    let mut out = format!(
        "{status_line}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    if let Some(d) = date {
        out.push_str(&format!("date: {d}\r\n"));
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(&body);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::envelope;

    #[test]
    fn rewrites_only_hypers_own_answers() {
        let hyper = b"HTTP/1.1 414 URI Too Long\r\nconnection: close\r\ncontent-length: 0\r\ndate: Wed, 02 Dec 2026 01:06:34 GMT\r\n\r\n";
        let out = String::from_utf8(envelope(hyper).unwrap()).unwrap();
        let (head, body) = out.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 414 URI Too Long\r\n"), "{head}");
        assert!(head.contains("content-type: application/json"));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        assert!(head.contains("date: Wed, 02 Dec 2026 01:06:34 GMT"));
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["error"]["code"], "URI_TOO_LONG");
        for not_hyper in [
            &b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"[..],
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 12\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\nbody",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n",
            b"hello",
            b"",
        ] {
            assert!(
                envelope(not_hyper).is_none(),
                "{}",
                String::from_utf8_lossy(not_hyper)
            );
        }
    }
}
