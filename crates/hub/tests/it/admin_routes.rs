//! The admin pages' routes, the other half of what the hub serves (`openapi.rs` holds the
//! API's): the routes table of docs/admin.md is exactly what `pages::router` mounts, read from
//! its source, and each documented route is served (not the pages' "no admin page" nor a 405).

use crate::common::{self, TestHub};
use reqwest::{Method, StatusCode};
use std::collections::BTreeSet;
use std::path::PathBuf;

fn workspace_file(path: &str) -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::read_to_string(root.join(path)).unwrap()
}

/// `(METHOD, /admin/path)` of every `.route(…)` in `pages::router`.
fn routed() -> BTreeSet<(String, String)> {
    let source = workspace_file("crates/hub/src/pages/mod.rs");
    let body = &source[source.find("pub fn router(").expect("pages::router")..];
    let body = &body[..body.find("\n}\n").expect("the end of pages::router")];
    let mut found = BTreeSet::new();
    for call in body.split(".route(").skip(1) {
        let path = call.split('"').nth(1).expect("a route's path");
        // The method routers of this route: everything up to the next `.route(`/`.fallback(`.
        let handlers = call.split(".fallback(").next().unwrap_or(call);
        for method in ["get", "post", "put", "delete", "patch"] {
            let named = handlers
                .match_indices(&format!("{method}("))
                .any(|(i, _)| i == 0 || !handlers.as_bytes()[i - 1].is_ascii_alphanumeric());
            if named {
                let path = format!("/admin{}", if path == "/" { "/" } else { path });
                found.insert((method.to_uppercase(), path));
            }
        }
    }
    found
}

/// `(METHOD, path)` of the routes table of docs/admin.md.
fn documented() -> BTreeSet<(String, String)> {
    let text = workspace_file("docs/admin.md");
    let start = text
        .find("| method | path | what |")
        .expect("admin.md's routes table");
    let mut found = BTreeSet::new();
    for line in text[start..]
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with('|'))
    {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let path = cells[2].trim_matches('`').to_owned();
        for method in cells[1].split(',') {
            found.insert((method.trim().to_owned(), path.clone()));
        }
    }
    found
}

#[tokio::test]
async fn the_documented_admin_routes_are_the_routed_ones_and_are_served() {
    let routed = routed();
    let documented = documented();
    assert!(routed.len() > 20, "the router was read: {routed:?}");
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(
        undocumented.is_empty() && unrouted.is_empty(),
        "routed but not in docs/admin.md: {undocumented:?}; documented but not routed: \
         {unrouted:?}"
    );
    let hub = TestHub::start(common::Backend::Sqlite).await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for (method, path) in &documented {
        let concrete = path
            .replace("{id}", "probe-id")
            .replace("{action}", "delete");
        let res = no_redirects
            .request(
                Method::from_bytes(method.as_bytes()).unwrap(),
                format!("{}{concrete}", hub.base),
            )
            .send()
            .await
            .unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert!(
            !text.contains("There is no admin page at this address"),
            "{method} {path}: {status} {text}"
        );
    }
}
