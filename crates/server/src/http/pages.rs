//! The few pages this API answers to a browser (an e-mail's link, Stripe's return, a shared
//! video): one look, and text escaped where it comes from a person.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

pub const STYLE: &str = "body{font:16px system-ui,sans-serif;max-width:32em;margin:20vh auto;padding:0 1em;color:#222}\
     @media(prefers-color-scheme:dark){body{background:#111;color:#eee}}";

/// A page that says one thing: a heading and a paragraph (both plain text).
pub fn notice(status: StatusCode, title: &str, text: &str) -> Response {
    page(status, title, &format!("<h1>{}</h1><p>{}</p>", escape(title), escape(text)), STYLE)
}

/// A whole page around `body` (HTML), never cached: what it says can change (a link revoked).
pub fn page(status: StatusCode, title: &str, body: &str, style: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\"><title>{} · Resonance</title>\
         <style>{style}</style></head><body>{body}</body></html>",
        escape(title)
    );
    (status, [(axum::http::header::CACHE_CONTROL, "no-store")], Html(html)).into_response()
}

/// `text` safe inside HTML text and double-quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_from_people_cannot_become_markup() {
        assert_eq!(
            escape(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
        assert_eq!(escape("Neon rain · 夜"), "Neon rain · 夜");
    }
}
