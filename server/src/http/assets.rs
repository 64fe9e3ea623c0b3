//! The browser bundle as a web server would send it: content-hashed names kept for a year
//! (`immutable`), brotli or gzip files made at build time sent to browsers that take them,
//! and pages never served from a cache without asking.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http::HeaderValue;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, VARY};
use std::path::Path;
use tower_http::services::ServeDir;

/// The bundle's current names, from `pkg/assets.json` (scripts/build.sh writes it).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct Assets {
    /// The folder under `pkg` that holds the script, the wasm modules and the split loader,
    /// named by their content hash (`0123456789abcdef`); empty for a `cargo leptos build`,
    /// which writes them into `pkg` itself.
    pub bundle: String,
    /// The style sheet's file name.
    pub style: String,
}

impl Assets {
    /// The bundle's folder relative to the site root, as Leptos' `site_pkg_dir` takes it.
    pub fn pkg_dir(&self, pkg_dir: &str) -> String {
        if self.bundle.is_empty() { pkg_dir.to_string() } else { format!("{pkg_dir}/{}", self.bundle) }
    }

    /// The names in `site_root/pkg/assets.json`; where there is none (a `cargo leptos
    /// build`), the plain names that build writes.
    pub fn read(site_root: &Path, pkg_dir: &str) -> anyhow::Result<Assets> {
        let path = site_root.join(pkg_dir).join("assets.json");
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                serde_json::from_str(&text).map_err(|err| anyhow::anyhow!("{}: {err}", path.display()))
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                tracing::warn!(
                    "{} not found: serving the bundle under its plain names, not cached",
                    path.display()
                );
                Ok(Assets { bundle: String::new(), style: "parley.css".into() })
            }
            Err(err) => Err(anyhow::anyhow!("cannot read {}: {err}", path.display())),
        }
    }
}

/// The bundle's folder, sending `NAME.br` or `NAME.gz` in place of `NAME` where the
/// browser accepts it and the file is there.
pub fn pkg_service(site_root: &Path, pkg_dir: &str) -> ServeDir {
    ServeDir::new(site_root.join(pkg_dir)).precompressed_br().precompressed_gzip()
}

fn is_hash(text: &str) -> bool {
    text.len() == 16 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A path whose content never changes: a name with a 16-hex-digit content hash before its
/// extension (`parley.<hash>.css`), or a file in a folder named by one (`<hash>/parley.js`).
pub fn is_hashed(path: &str) -> bool {
    let mut segments = path.rsplit('/');
    let name = segments.next().unwrap_or_default();
    let mut parts = name.rsplit('.');
    let hashed_name = matches!((parts.next(), parts.next()), (Some(_), Some(hash)) if is_hash(hash));
    hashed_name || segments.next().is_some_and(is_hash)
}

/// Cache-Control for the bundle: a year and `immutable` for hashed names, otherwise
/// revalidate every time.
pub async fn pkg_cache(request: Request, next: Next) -> Response {
    let hashed = is_hashed(request.uri().path());
    let mut response = next.run(request).await;
    if response.status().is_success() || response.status() == http::StatusCode::NOT_MODIFIED {
        let value = if hashed { "public, max-age=31536000, immutable" } else { "no-cache" };
        response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static(value));
        // The same address gives brotli, gzip or plain bytes: caches keep them apart.
        response.headers_mut().insert(VARY, HeaderValue::from_static("accept-encoding"));
    }
    response
}

/// Pages are never taken from a cache without asking the server (they show who is signed
/// in and the current queue); nor kept by shared caches.
pub async fn page_cache(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let html = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("text/html"));
    if html && !response.headers().contains_key(CACHE_CONTROL) {
        response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-cache, private"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_names() {
        assert!(is_hashed("parley.0123456789abcdef.wasm"));
        assert!(is_hashed("parley.0123456789ABCDEF.css"));
        assert!(!is_hashed("parley.wasm"));
        assert!(!is_hashed("parley.css"));
        assert!(!is_hashed("parley.0123456789abcde.js"), "15 digits");
        assert!(!is_hashed("parley.0123456789abcdeg.js"), "not hex");
        assert!(!is_hashed("0123456789abcdef"));
        assert!(!is_hashed(""));
        assert!(is_hashed("/0123456789abcdef/parley.js"));
        assert!(is_hashed("/pkg/0123456789abcdef/chunk_3_route.wasm"));
        assert!(is_hashed("0123456789abcdef/__wasm_split.______________________.js"));
        assert!(!is_hashed("/pkg/0123456789abcde/parley.js"), "15 digits");
        assert!(!is_hashed("/pkg/assets.json"));
    }

    #[test]
    fn assets_json_or_plain_names() {
        let dir = tempfile::tempdir().unwrap();
        let plain = Assets::read(dir.path(), "pkg").unwrap();
        assert_eq!(plain, Assets { bundle: String::new(), style: "parley.css".into() });
        assert_eq!(plain.pkg_dir("pkg"), "pkg");
        std::fs::create_dir(dir.path().join("pkg")).unwrap();
        std::fs::write(
            dir.path().join("pkg/assets.json"),
            r#"{"bundle": "0123456789abcdef", "style": "parley.fedcba9876543210.css"}"#,
        )
        .unwrap();
        let hashed = Assets::read(dir.path(), "pkg").unwrap();
        assert_eq!(hashed.pkg_dir("pkg"), "pkg/0123456789abcdef");
        assert_eq!(hashed.style, "parley.fedcba9876543210.css");
        std::fs::write(dir.path().join("pkg/assets.json"), "{").unwrap();
        let err = Assets::read(dir.path(), "pkg").unwrap_err().to_string();
        assert!(err.contains("assets.json"), "{err}");
    }
}
