//! Imports of a Disqus export, a WordPress export (WXR) and JSON lines, over HTTP: what each
//! stores, the problems it reports with their place, that running it again changes nothing,
//! that a reply is linked when its parent arrives (later in the file or in another file), and
//! who may import.

use super::BACKEND;
use crate::common::{code, items, Tenant, TestHub};
use reqwest::StatusCode;
use serde_json::{json, Value};

const WXR: &str = r#"<?xml version="1.0" encoding="UTF-8" ?>
<rss version="2.0" xmlns:wp="http://wordpress.org/export/1.2/">
<channel>
  <item>
    <title><![CDATA[Hello world!]]></title>
    <link>https://blog.example/hello-world/</link>
    <wp:post_id>12</wp:post_id>
    <wp:comment>
      <wp:comment_id>2</wp:comment_id>
      <wp:comment_author><![CDATA[Zoë]]></wp:comment_author>
      <wp:comment_date_gmt>2024-05-01 12:03:10</wp:comment_date_gmt>
      <wp:comment_content><![CDATA[Thanks &amp; <b>welcome</b>]]></wp:comment_content>
      <wp:comment_approved>1</wp:comment_approved>
      <wp:comment_parent>1</wp:comment_parent>
    </wp:comment>
    <wp:comment>
      <wp:comment_id>3</wp:comment_id>
      <wp:comment_author>Other blog</wp:comment_author>
      <wp:comment_content>ping</wp:comment_content>
      <wp:comment_type>pingback</wp:comment_type>
    </wp:comment>
    <wp:comment>
      <wp:comment_id>4</wp:comment_id>
      <wp:comment_author>Spammer</wp:comment_author>
      <wp:comment_date_gmt>2024-05-02 08:00:00</wp:comment_date_gmt>
      <wp:comment_content>buy</wp:comment_content>
      <wp:comment_approved>spam</wp:comment_approved>
    </wp:comment>
  </item>
</channel>
</rss>"#;

const DISQUS: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<disqus xmlns="http://disqus.com" xmlns:dsq="http://disqus.com/disqus-internals">
<thread dsq:id="10"><id>post-1</id><link>https://blog.example/1</link><title>One</title></thread>
<thread dsq:id="11"><id></id><link>https://blog.example/2</link><title>Two</title></thread>
<post dsq:id="101"><message><![CDATA[<p>Before my parent</p>]]></message><createdAt>2013-01-02T00:00:00Z</createdAt><isDeleted>false</isDeleted><isSpam>false</isSpam><author><name>Zoë</name></author><thread dsq:id="10"/><parent dsq:id="100"/></post>
<post dsq:id="100"><message><![CDATA[Parent]]></message><createdAt>2013-01-01T00:00:00Z</createdAt><isDeleted>false</isDeleted><isSpam>false</isSpam><author><name>Ana</name><email>ana@example.com</email></author><thread dsq:id="10"/></post>
<post dsq:id="102"><message>Nowhere</message><createdAt>2013-01-03T00:00:00Z</createdAt><author><name>Lost</name></author><thread dsq:id="99"/></post>
<post dsq:id="103"><message>On two</message><createdAt>2013-01-04T00:00:00Z</createdAt><isDeleted>true</isDeleted><author><name>Gone</name></author><thread dsq:id="11"/></post>
</disqus>"#;

/// A hub with a tenant, Blog, that imported `file` (`query`: the import's query string): the
/// hub, the tenant and the finished import.
async fn blog_that_imported(query: &str, file: &str) -> (TestHub, Tenant, Value) {
    let hub = TestHub::start(BACKEND).await;
    let t = hub.tenant("Blog").await;
    let done = hub.api(&t.key).run_import(query, file).await;
    (hub, t, done)
}

fn by_external<'v>(comments: &'v Value, ext: &str) -> &'v Value {
    items(&comments["comments"])
        .find(|c| c["externalId"] == ext)
        .unwrap_or_else(|| panic!("no comment {ext} in {comments}"))
}

#[tokio::test]
async fn a_wordpress_export_is_stored_as_the_plugin_would_and_again_changes_nothing() {
    let (hub, t, done) = blog_that_imported("", WXR).await;
    let api = hub.api(&t.key);
    assert_eq!(
        (&done["state"], &done["format"], &done["read"], &done["created"], &done["skipped"]),
        (&json!("done"), &json!("wxr"), &json!(3), &json!(2), &json!(1)),
        "{done}"
    );
    let (_, v) = api.comments("urlId=12").await;
    let reply = by_external(&v, "2");
    assert_eq!(
        (&reply["commenterName"], &reply["comment"], &reply["commentHTML"]),
        (&json!("Zoë"), &json!("Thanks & welcome"), &json!("Thanks &amp; <b>welcome</b>")),
        "{reply}"
    );
    assert_eq!(reply["date"], crate::common::iso_ms("2024-05-01T12:03:10.000Z"));
    assert_eq!(reply["meta"]["wpPostId"], "12");
    assert_eq!(reply["parentId"], Value::Null, "its parent is not here yet");
    assert_eq!((&by_external(&v, "4")["isSpam"], &by_external(&v, "4")["approved"]), (&json!(true), &json!(false)));

    // Again: nothing new.
    let again = api.run_import("format=wxr", WXR).await;
    assert_eq!((&again["created"], &again["unchanged"]), (&json!(0), &json!(2)), "{again}");
    let (_, v) = api.comments("").await;
    assert_eq!(v["comments"].as_array().unwrap().len(), 2);

    // The parent arrives in another file: the waiting reply is linked to it.
    let parent = json!({"externalId": "1", "urlId": "12", "commenterName": "Admin", "comment": "First post comment", "date": "2024-05-01 12:00:00"});
    let done = api.run_import("format=jsonl", &format!("{parent}\n")).await;
    assert_eq!(done["created"], 1, "{done}");
    let (_, v) = api.comments("urlId=12").await;
    assert_eq!(by_external(&v, "2")["parentId"], by_external(&v, "1")["id"]);
}

#[tokio::test]
async fn a_disqus_export_links_replies_keeps_states_and_reports_problems_where_they_are() {
    let (hub, t, done) = blog_that_imported("format=disqus", DISQUS).await;
    let api = hub.api(&t.key);
    assert_eq!((&done["state"], &done["created"], &done["read"]), (&json!("done"), &json!(3), &json!(4)), "{done}");
    let problems = done["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{done}");
    assert_eq!(problems[0]["line"], 7);
    assert!(problems[0]["message"].as_str().unwrap().contains("thread 99"));
    let (_, v) = api.comments("urlId=post-1").await;
    let (parent, reply) = (by_external(&v, "disqus-100"), by_external(&v, "disqus-101"));
    assert_eq!(reply["parentId"], parent["id"], "a reply before its parent is linked");
    assert_eq!(parent["commenterEmail"], "ana@example.com");
    assert_eq!(reply["commenterEmail"], Value::Null, "an author without e-mail is fine");
    assert_eq!(parent["date"], crate::common::iso_ms("2013-01-01T00:00:00.000Z"));
    let (_, v) = api.comments("urlId=https://blog.example/2").await;
    let gone = by_external(&v, "disqus-103");
    assert_eq!((&gone["approved"], &gone["isDeleted"]), (&json!(false), &json!(true)), "{gone}");
    // The threads are pages.
    let (s, v) = hub.call(reqwest::Method::GET, "/api/v1/pages/by-url-id?urlId=post-1", Some(&t.key), None).await;
    assert_eq!((s, &v["page"]["title"], &v["page"]["commentCount"]), (StatusCode::OK, &json!("One"), &json!(2)), "{v}");
}

#[tokio::test]
async fn broken_files_dry_runs_and_credentials() {
    let hub = TestHub::start(BACKEND).await;
    let t = hub.tenant_owning("Blog", &["blog.example"]).await;
    let other = hub.tenant("Other").await;
    let api = hub.api(&t.key);
    // Broken XML: the import fails at the place of the break.
    let broken = "<disqus>\n<thread dsq:id=\"1\"><id>x</id></post>\n</disqus>";
    let failed = api.run_import("format=disqus", broken).await;
    assert_eq!(failed["state"], "failed", "{failed}");
    assert_eq!(failed["problems"][0]["line"], 2, "{failed}");
    // A line that is not a comment is a problem at its line; the others are stored.
    let jsonl = "{\"externalId\":\"a\",\"urlId\":\"p\",\"comment\":\"ok\"}\nnot json\n\n{\"externalId\":\"b\",\"comment\":\"no thread\"}\n";
    let done = api.run_import("format=jsonl", jsonl).await;
    assert_eq!((&done["state"], &done["created"]), (&json!("done"), &json!(1)), "{done}");
    let lines: Vec<&Value> = done["problems"].as_array().unwrap().iter().map(|p| &p["line"]).collect();
    assert_eq!(lines, vec![&json!(2), &json!(4)], "{done}");
    // A dry run stores nothing.
    let dry = api.run_import("dryRun=true", WXR).await;
    assert_eq!((&dry["state"], &dry["dryRun"], &dry["read"], &dry["created"]), (&json!("done"), &json!(true), &json!(3), &json!(0)), "{dry}");
    let (_, v) = api.comments("urlId=12").await;
    assert!(v["comments"].as_array().unwrap().is_empty());
    // Not a format it reads; a format it does not know.
    let (s, v) = api.start_import("", "hello").await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "invalid-body"), "{v}");
    let (s, v) = api.start_import("format=csv", "a,b").await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "invalid-query"), "{v}");
    // Another tenant's import is not found; a domain's secret may not import.
    let (s, _) = hub.api(&other.key).import(done["id"].as_str().unwrap()).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, listed) = hub.api(&other.key).imports().await;
    assert!(listed["imports"].as_array().unwrap().is_empty());
    let (narrow, _) = api.create_secret_for("blog.example").await;
    let (s, v) = hub.api(&narrow).start_import("format=wxr", WXR).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "all-domains-secret-required"), "{v}");
    let (_, mine) = api.imports().await;
    assert_eq!(mine["imports"].as_array().unwrap().len(), 3);
}

/// Export as JSON lines, import into an empty tenant, export again: the same comments, threads,
/// parents, dates, states and counts. Importing the export into its own tenant creates nothing.
#[tokio::test]
async fn an_export_imports_back_into_another_tenant_unchanged() {
    let hub = TestHub::start(BACKEND).await;
    let a = hub.tenant("Alpha").await;
    let b = hub.tenant("Beta").await;
    let api = hub.api(&a.key);
    api.run_import("format=disqus", DISQUS).await;
    let top = hub.comment(&a, "api-thread", "Made through the API").await;
    let top_id = top["_id"].as_str().unwrap();
    let (s, v) = api
        .create_comment(json!({"urlId": "api-thread", "commenterName": "R", "comment": "A reply", "parentId": top_id, "meta": {"k": [1, 2]}}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, _) = api.vote(top_id, json!({"direction": 1, "userId": "u1"})).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = api.update_comment(top_id, json!({"isSpam": true})).await;
    assert_eq!(s, StatusCode::OK);

    let export = |key: String| {
        let hub = &hub;
        async move {
            let res = hub
                .client
                .get(format!("{}/api/v1/export?format=jsonl", hub.base))
                .header("x-api-key", key)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            assert_eq!(res.headers()["content-type"], "application/x-ndjson");
            res.text().await.unwrap()
        }
    };
    let first = export(a.key.clone()).await;
    assert_eq!(first.lines().count(), 5, "{first}");
    let done = hub.api(&b.key).run_import("format=jsonl", &first).await;
    assert_eq!((&done["state"], &done["created"]), (&json!("done"), &json!(5)), "{done}");
    let second = export(b.key.clone()).await;

    // The same comments, compared by source id, hub ids and tenants aside.
    let by_source = |text: &str| -> std::collections::BTreeMap<String, Value> {
        text.lines()
            .map(|l| {
                let mut v: Value = serde_json::from_str(l).unwrap();
                let o = v.as_object_mut().unwrap();
                o.remove("_id");
                (o["externalId"].as_str().unwrap().to_owned(), v)
            })
            .collect()
    };
    assert_eq!(by_source(&first), by_source(&second));
    let (_, v) = hub.api(&b.key).comments("urlId=api-thread").await;
    let list = v["comments"].as_array().unwrap();
    let (parent, reply) = (&list[0], &list[1]);
    assert_eq!(reply["parentId"], parent["id"], "{v}");
    assert_eq!((&parent["isSpam"], &parent["votes"]), (&json!(true), &json!(1)), "{v}");
    assert_ne!(parent["id"], json!(top_id), "a new tenant's own ids");

    // Into its own tenant again: nothing new.
    let again = api.run_import("format=jsonl", &first).await;
    assert_eq!((&again["state"], &again["created"]), (&json!("done"), &json!(0)), "{again}");
    let (_, v) = api.comments("").await;
    assert_eq!(v["comments"].as_array().unwrap().len(), 5);
    // Another tenant's key exports its own tenant only; a domain's secret may not export.
    let (s, v) = hub.call(reqwest::Method::GET, "/api/v1/export?format=csv", Some(&a.key), None).await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "invalid-query"));
    let (narrow, _) = hub.api(&a.key).create_secret_for("alpha.example").await;
    let (s, v) = hub.call(reqwest::Method::GET, "/api/v1/export", Some(&narrow), None).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "all-domains-secret-required"), "{v}");
}

/// Batches are stored two at a time: a reply whose parent is in the batch stored beside its own,
/// or in a batch later in the file, is linked all the same, and running the file again changes
/// nothing. Each comment answers the one before it; the first answers the file's last line.
#[tokio::test]
async fn replies_across_batches_stored_at_once_are_linked() {
    let n = 3000;
    let line = |ext: &str, parent: Option<String>| {
        let c = json!({"externalId": ext, "externalParentId": parent, "urlId": "t",
            "commenterName": "Ana", "comment": format!("Comment {ext}"),
            "date": "2024-05-01T12:00:00.000Z"});
        format!("{c}\n")
    };
    let mut file = line("c0", Some("last".to_owned()));
    for i in 1..n {
        file.push_str(&line(&format!("c{i}"), Some(format!("c{}", i - 1))));
    }
    file.push_str(&line("last", None));
    let (hub, t, done) = blog_that_imported("format=jsonl", &file).await;
    assert_eq!((&done["state"], &done["created"]), (&json!("done"), &json!(n + 1)), "{done}");

    let api = hub.api(&t.key);
    let mut stored: Vec<Value> = Vec::new();
    for page in 0..4 {
        let (_, v) = api.comments(&format!("urlId=t&limit=1000&page={page}")).await;
        stored.extend(items(&v["comments"]).cloned());
    }
    assert_eq!(stored.len(), n + 1);
    let by_ext: std::collections::HashMap<&str, &Value> = stored
        .iter()
        .map(|c| (c["externalId"].as_str().unwrap(), c))
        .collect();
    let parent_of = |ext: &str| &by_ext[ext]["parentId"];
    let id_of = |ext: &str| &by_ext[ext]["id"];
    assert_eq!(parent_of("c0"), id_of("last"));
    for i in 1..n {
        assert_eq!(parent_of(&format!("c{i}")), id_of(&format!("c{}", i - 1)), "c{i}");
    }
    let again = api.run_import("format=jsonl", &file).await;
    assert_eq!(
        (&again["state"], &again["created"], &again["unchanged"]),
        (&json!("done"), &json!(0), &json!(n + 1)),
        "{again}"
    );
}
