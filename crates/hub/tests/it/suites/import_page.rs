//! The admin pages' Import page over plain HTTP: an upload's CSRF check happens before its
//! body is read (a file may be gigabytes, the other forms' check reads the body), a file
//! imported through the page shows its counts and problems, another tenant's import is not
//! found, and an address over its budget is throttled. `admin_browser.rs` uploads through the
//! real form in Chromium.

use super::admin_pages::{signed_in, Client, Page};
use super::BACKEND;
use crate::common::{self, Tenant, TestHub};
use fastcomments_hub::config::ThrottleQuota;
use fastcomments_hub::HubConfig;
use reqwest::StatusCode;
use serde_json::Value;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A Disqus export with a reply before its parent and a post in a thread that is not there
/// (a problem on line 6).
const DISQUS: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<disqus xmlns="http://disqus.com" xmlns:dsq="http://disqus.com/disqus-internals">
<thread dsq:id="10"><id>post-1</id><link>https://blog.example/1</link><title>One</title></thread>
<post dsq:id="101"><message><![CDATA[<p>Before my parent</p>]]></message><createdAt>2013-01-02T00:00:00Z</createdAt><author><name>Zoë</name></author><thread dsq:id="10"/><parent dsq:id="100"/></post>
<post dsq:id="100"><message>Parent</message><createdAt>2013-01-01T00:00:00Z</createdAt><author><name>Ana</name></author><thread dsq:id="10"/></post>
<post dsq:id="102"><message>Nowhere</message><createdAt>2013-01-03T00:00:00Z</createdAt><author><name>Lost</name></author><thread dsq:id="99"/></post>
</disqus>"#;

const BOUNDARY: &str = "----import-page-test";

/// A `multipart/form-data` body as a browser sends the Import form: its fields in order, then
/// the file.
fn form_body(fields: &[(&str, &str)], file: &str) -> Vec<u8> {
    let mut out = String::new();
    for (name, value) in fields {
        out.push_str(&format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    out.push_str(&format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"export.xml\"\r\n\
         Content-Type: text/xml\r\n\r\n{file}\r\n--{BOUNDARY}--\r\n"
    ));
    out.into_bytes()
}

/// The form's action, read off the Import page (it carries the session's token).
fn action_of(html: &str) -> String {
    let at = html
        .find("action=\"/admin/imports?")
        .unwrap_or_else(|| panic!("no upload form in {html}"))
        + "action=\"".len();
    let rest = &html[at..];
    rest[..rest.find('"').unwrap()].replace("&amp;", "&")
}

/// Uploads `file` through the Import form of `c`'s session, as a browser would.
async fn upload(c: &mut Client, fields: &[(&str, &str)], file: &str) -> Page {
    let form = c.get("/admin/imports").await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.text);
    let action = action_of(&form.text);
    let req = c
        .http
        .post(format!("{}{action}", c.base))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .header("origin", c.base.clone())
        .header("sec-fetch-site", "same-origin")
        .body(form_body(fields, file));
    c.send(req).await
}

/// Follows an upload's redirect to its import's page and reloads it until the import ends.
async fn finished(c: &mut Client, posted: &Page) -> (String, Page) {
    assert_eq!(posted.status, StatusCode::SEE_OTHER, "{}", posted.text);
    let to = posted.location().to_owned();
    let id = to
        .strip_prefix("/admin/imports/")
        .unwrap_or_else(|| panic!("redirected to {to}"))
        .to_owned();
    for _ in 0..400 {
        let page = c.get(&to).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        if !page.text.contains("id=\"import-state\">running<") {
            return (id, page);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("import {id} never ended");
}

/// The text of the element with `id` on `page` (the pages put each count in one).
fn text_by_id(page: &Page, id: &str) -> String {
    let marker = format!("id=\"{id}\">");
    let at = page
        .text
        .find(&marker)
        .unwrap_or_else(|| panic!("no #{id} in {}", page.text))
        + marker.len();
    let rest = &page.text[at..];
    rest[..rest.find('<').unwrap()].trim().to_owned()
}

/// [`head_only`] of an import as `client` sends it: its cookie, and its form token in the URL.
async fn import_head_from(hub: &TestHub, client: &Client) -> (u16, String) {
    let target = format!("/admin/imports?csrf={}", client.csrf);
    head_only(hub, &target, &[("cookie", &cookie_of(client))]).await
}

/// Sends only the head of an upload whose body is said to be 5 GB, and reads the answer: an
/// answer at all proves the hub decided without reading the body (none was sent).
async fn head_only(hub: &TestHub, target: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let addr = hub.base.trim_start_matches("http://");
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut head = format!(
        "POST {target} HTTP/1.1\r\nHost: {addr}\r\n\
         Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: 5000000000\r\n"
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        let mut buf = [0u8; 8192];
        loop {
            let n = tcp.read(&mut buf).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
            // The whole page is there once `</html>` is.
            if got.windows(7).any(|w| w == b"</html>") {
                break;
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no answer before the body: the hub waits for it");
    let text = String::from_utf8_lossy(&got).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {text}"));
    (status, text)
}

/// What a refused head is: what it stands for, its target, its headers.
type Refusal<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>);

fn cookie_of(c: &Client) -> String {
    format!("fc_admin={}", c.cookie.clone().unwrap())
}

async fn imports_of(hub: &TestHub, t: &Tenant) -> Vec<Value> {
    let (s, v) = hub.api(&t.key).imports().await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["imports"].as_array().unwrap().clone()
}

#[tokio::test]
async fn an_upload_without_the_token_is_refused_before_its_body_is_read() {
    let hub = TestHub::start(BACKEND).await;
    let t = hub.tenant("Blog").await;
    let c = signed_in(&hub, &t).await;
    let cookie = cookie_of(&c);
    let token = c.csrf.clone();
    let with_token = format!("/admin/imports?csrf={token}");
    let refusals: [Refusal; 5] = [
        ("no token", "/admin/imports", vec![("cookie", &cookie)]),
        (
            "another token",
            "/admin/imports?csrf=0000000000000000000000000000000000000000000000000000000000000000",
            vec![("cookie", &cookie)],
        ),
        (
            "a cross-site form",
            &with_token,
            vec![("cookie", &cookie), ("sec-fetch-site", "cross-site")],
        ),
        (
            "another origin",
            &with_token,
            vec![("cookie", &cookie), ("origin", "http://evil.example")],
        ),
        ("no session", &with_token, vec![]),
    ];
    for (what, target, headers) in refusals {
        let (status, text) = head_only(&hub, target, &headers).await;
        assert_eq!(status, 403, "{what}: {text}");
        assert!(text.contains("Refused"), "{what}: {text}");
    }
    // The sign-in form's cookie (no one signed in) with its own token: no session, no import.
    let mut anonymous = Client::new(&hub);
    anonymous.get("/admin/sign-in").await;
    let (status, text) = import_head_from(&hub, &anonymous).await;
    assert_eq!(status, 403, "{text}");
    // Nothing was spooled, nothing started.
    assert!(imports_of(&hub, &t).await.is_empty());
    // With the token (in the query, or in a header for a script), the same head is taken:
    // the hub waits for the body rather than refusing.
    for (target, extra) in [
        (with_token.as_str(), None),
        ("/admin/imports", Some(("x-csrf-token", token.as_str()))),
    ] {
        let addr = hub.base.trim_start_matches("http://");
        let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut head = format!(
            "POST {target} HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\n\
             Content-Type: application/octet-stream\r\nContent-Length: 5000000000\r\n"
        );
        if let Some((k, v)) = extra {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        tcp.write_all(head.as_bytes()).await.unwrap();
        let mut buf = [0u8; 64];
        let answered = tokio::time::timeout(Duration::from_millis(500), tcp.read(&mut buf)).await;
        assert!(answered.is_err(), "{target}: accepted, so it reads the body");
    }
}

#[tokio::test]
async fn a_disqus_file_imported_through_the_page_shows_its_counts() {
    let hub = TestHub::start(BACKEND).await;
    let t = hub.tenant("Blog").await;
    let mut c = signed_in(&hub, &t).await;
    let form = c.get("/admin/imports").await;
    assert!(form.text.contains("href=\"/admin/imports\" aria-current=\"page\""), "{}", form.text);
    let posted = upload(&mut c, &[("format", "")], DISQUS).await;
    let (id, page) = finished(&mut c, &posted).await;
    assert_eq!(text_by_id(&page, "import-state"), "done");
    assert_eq!(text_by_id(&page, "import-format"), "disqus", "guessed from the file");
    for (count, want) in [
        ("read", "3"),
        ("created", "2"),
        ("updated", "0"),
        ("unchanged", "0"),
        ("skipped", "0"),
    ] {
        assert_eq!(text_by_id(&page, &format!("import-{count}")), want, "{count}");
    }
    assert!(page.text.contains("line 6, column"), "{}", page.text);
    assert!(page.text.contains("thread 99"), "{}", page.text);
    assert!(!page.text.contains("http-equiv=\"refresh\""), "no reloading once done");
    // What the page says is what the API says, and the comments are there.
    let listed = imports_of(&hub, &t).await;
    assert_eq!((listed.len(), &listed[0]["id"]), (1, &Value::from(id.clone())));
    let (_, v) = hub.api(&t.key).comments("urlId=post-1").await;
    assert_eq!(v["comments"].as_array().unwrap().len(), 2, "{v}");
    // The list shows it, linked.
    let list = c.get("/admin/imports").await;
    assert!(list.text.contains(&format!("href=\"/admin/imports/{id}\"")), "{}", list.text);

    // Again as a dry run, the format named: read and checked, nothing stored.
    let posted = upload(&mut c, &[("format", "disqus"), ("dryRun", "on")], DISQUS).await;
    let (_, page) = finished(&mut c, &posted).await;
    assert_eq!(text_by_id(&page, "import-state"), "done");
    assert!(page.text.contains("Dry run"), "{}", page.text);
    assert_eq!(text_by_id(&page, "import-created"), "0");
    assert_eq!(imports_of(&hub, &t).await.len(), 2);
}

#[tokio::test]
async fn a_malformed_file_shows_its_problems_with_positions() {
    let hub = TestHub::start(BACKEND).await;
    let t = hub.tenant("Blog").await;
    let mut c = signed_in(&hub, &t).await;
    let broken = "<disqus>\n<thread dsq:id=\"1\"><id>x</id></post>\n</disqus>";
    let posted = upload(&mut c, &[("format", "disqus")], broken).await;
    let (_, page) = finished(&mut c, &posted).await;
    assert_eq!(text_by_id(&page, "import-state"), "failed");
    assert!(page.text.contains("line 2, column"), "{}", page.text);
    // Not a format it reads: said on the form's page, nothing started.
    let posted = upload(&mut c, &[("format", "")], "hello").await;
    assert_eq!(posted.status, StatusCode::SEE_OTHER, "{}", posted.text);
    assert_eq!(posted.location(), "/admin/imports");
    let form = c.get("/admin/imports").await;
    assert!(form.text.contains("not one of the formats"), "{}", form.text);
    // A format it does not know.
    let posted = upload(&mut c, &[("format", "csv")], "a,b").await;
    assert_eq!(posted.location(), "/admin/imports");
    let form = c.get("/admin/imports").await;
    assert!(form.text.contains("format must be"), "{}", form.text);
    assert_eq!(imports_of(&hub, &t).await.len(), 1);
}

#[tokio::test]
async fn another_tenants_import_is_not_found() {
    let hub = TestHub::start(BACKEND).await;
    let t = hub.tenant("Blog").await;
    let other = hub.tenant("Other").await;
    let theirs = hub.api(&other.key).run_import("format=disqus", DISQUS).await;
    let theirs = theirs["id"].as_str().unwrap();
    let mut c = signed_in(&hub, &t).await;
    let page = c.get(&format!("/admin/imports/{theirs}")).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND, "{}", page.text);
    assert!(!page.text.contains("thread 99"), "nothing of theirs is shown");
    let list = c.get("/admin/imports").await;
    assert!(!list.text.contains(theirs), "{}", list.text);
    let page = c.get("/admin/imports/not-an-id").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_address_over_its_budget_is_throttled_before_the_upload() {
    let hub = TestHub::configured(
        BACKEND,
        HubConfig {
            credential_failures: ThrottleQuota {
                burst: 2,
                per_minute: 1,
            },
            ..common::admin_config()
        },
    )
    .await;
    let t = hub.tenant("Blog").await;
    let c = signed_in(&hub, &t).await;
    for _ in 0..3 {
        hub.api("not-a-key").imports().await;
    }
    let (status, text) = import_head_from(&hub, &c).await;
    assert_eq!(status, 429, "{text}");
    assert!(imports_of_unthrottled(&hub, &t).await);
}

/// Whether the tenant has no imports, read from the store (the API would be throttled too).
async fn imports_of_unthrottled(hub: &TestHub, t: &Tenant) -> bool {
    hub.store.imports(&t.id, 10).await.unwrap().is_empty()
}
