//! The WordPress export (WXR) over HTTP: a tenant exported as WXR and imported into an empty
//! tenant exports (as JSON lines) the same comments, threads, parents, dates, states and
//! authors; the file is well-formed XML with WordPress' fields, its text escaped; and only the
//! tenant's All Domains secret exports it.

use super::BACKEND;
use crate::common::{assert_refused, TestHub};
use quick_xml::events::Event;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// WordPress comments in every state, with text an XML writer must take care of.
const WORDPRESS: &str = r#"<?xml version="1.0" encoding="UTF-8" ?>
<rss version="2.0" xmlns:wp="http://wordpress.org/export/1.2/">
<channel>
  <wp:wxr_version>1.2</wp:wxr_version>
  <item>
    <title><![CDATA[Ünïcode & <friends>]]></title>
    <link>https://blog.example/?p=12</link>
    <wp:post_id>12</wp:post_id>
    <wp:comment>
      <wp:comment_id>1</wp:comment_id>
      <wp:comment_author><![CDATA[Zoë 日本]]></wp:comment_author>
      <wp:comment_author_email>zoe@example.com</wp:comment_author_email>
      <wp:comment_author_url>https://zoe.example</wp:comment_author_url>
      <wp:comment_date_gmt>2024-05-01 12:00:00</wp:comment_date_gmt>
      <wp:comment_content><![CDATA[Ends a section: ]]]]><![CDATA[> and &amp; <em>kept</em> 🎉]]></wp:comment_content>
      <wp:comment_approved>1</wp:comment_approved>
      <wp:comment_parent>0</wp:comment_parent>
      <wp:comment_user_id>3</wp:comment_user_id>
    </wp:comment>
    <wp:comment>
      <wp:comment_id>2</wp:comment_id>
      <wp:comment_author>Waiting</wp:comment_author>
      <wp:comment_date_gmt>2024-05-01 12:01:00</wp:comment_date_gmt>
      <wp:comment_content>Held for moderation</wp:comment_content>
      <wp:comment_approved>0</wp:comment_approved>
      <wp:comment_parent>1</wp:comment_parent>
    </wp:comment>
    <wp:comment>
      <wp:comment_id>3</wp:comment_id>
      <wp:comment_author>Binned</wp:comment_author>
      <wp:comment_date_gmt>2024-05-01 12:02:00</wp:comment_date_gmt>
      <wp:comment_content>In the bin</wp:comment_content>
      <wp:comment_approved>trash</wp:comment_approved>
      <wp:comment_parent>1</wp:comment_parent>
    </wp:comment>
    <wp:comment>
      <wp:comment_id>4</wp:comment_id>
      <wp:comment_author>Spammer</wp:comment_author>
      <wp:comment_date_gmt>2024-05-01 12:03:00</wp:comment_date_gmt>
      <wp:comment_content>buy</wp:comment_content>
      <wp:comment_approved>spam</wp:comment_approved>
    </wp:comment>
  </item>
</channel>
</rss>"#;

/// A Disqus thread with a reply before its parent and a deleted post.
const DISQUS: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<disqus xmlns="http://disqus.com" xmlns:dsq="http://disqus.com/disqus-internals">
<thread dsq:id="10"><id>post-1</id><link>https://blog.example/1</link><title>One</title></thread>
<post dsq:id="101"><message><![CDATA[<p>Before my parent</p>]]></message><createdAt>2013-01-02T00:00:00Z</createdAt><isDeleted>false</isDeleted><isSpam>false</isSpam><author><name>Ana</name></author><thread dsq:id="10"/><parent dsq:id="100"/></post>
<post dsq:id="100"><message><![CDATA[Parent]]></message><createdAt>2013-01-03T00:00:00Z</createdAt><isDeleted>false</isDeleted><isSpam>false</isSpam><author><name>Bo</name><email>bo@example.com</email></author><thread dsq:id="10"/></post>
<post dsq:id="102"><message>Gone</message><createdAt>2013-01-04T00:00:00Z</createdAt><isDeleted>true</isDeleted><author><name>Cy</name></author><thread dsq:id="10"/></post>
</disqus>"#;

/// What a round trip keeps of each comment, by its source id.
fn kept(jsonl: &str) -> BTreeMap<String, Value> {
    jsonl
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            let pick: serde_json::Map<String, Value> = [
                "urlId", "externalParentId", "date", "approved", "isSpam", "isDeleted",
                "commenterName", "commenterEmail", "userId", "commenterLink", "comment",
                "commentHTML", "votes", "votesUp", "votesDown", "meta",
            ]
            .iter()
            .map(|k| (k.to_string(), v.get(*k).cloned().unwrap_or(Value::Null)))
            .collect();
            (v["externalId"].as_str().unwrap().to_owned(), Value::Object(pick))
        })
        .collect()
}

/// Every element of `xml`, well-formed or the test fails.
fn elements(xml: &str) -> Vec<String> {
    let mut r = quick_xml::Reader::from_str(xml);
    r.config_mut().check_end_names = true;
    let mut names = Vec::new();
    loop {
        match r.read_event() {
            Ok(Event::Start(e)) => names.push(String::from_utf8(e.name().as_ref().to_vec()).unwrap()),
            Ok(Event::Eof) => return names,
            Ok(_) => {}
            Err(e) => panic!("not well-formed at {}: {e}\n{xml}", r.buffer_position()),
        }
    }
}

#[tokio::test]
async fn a_wxr_export_imports_into_an_empty_tenant_as_the_same_comments() {
    let hub = TestHub::start(BACKEND).await;
    let a = hub.tenant("Alpha").await;
    let b = hub.tenant("Beta").await;
    let api = hub.api(&a.key);
    for (format, file) in [("wxr", WORDPRESS), ("disqus", DISQUS)] {
        let done = api.run_import(&format!("format={format}"), file).await;
        assert_eq!((&done["state"], &done["problems"]), (&json!("done"), &json!([])), "{done}");
    }
    let top = hub.comment(&a, "api-thread", "Made through the API").await;
    let top_id = top["_id"].as_str().unwrap();
    let (s, v) = api
        .create_comment(json!({"urlId": "api-thread", "commenterName": "R", "userId": "user-9", "comment": "A reply", "parentId": top_id, "meta": {"k": [1, 2]}}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, _) = api.vote(top_id, json!({"direction": 1, "userId": "u1"})).await;
    assert_eq!(s, StatusCode::OK);
    // Spam that stays approved: a state WordPress has no word for.
    let (s, _) = api.update_comment(top_id, json!({"isSpam": true})).await;
    assert_eq!(s, StatusCode::OK);

    let (s, kind, wxr) = api.export("format=wxr").await;
    assert_eq!((s, kind.as_str()), (StatusCode::OK, "application/xml; charset=utf-8"), "{wxr}");
    let names = elements(&wxr);
    assert_eq!(names.iter().filter(|n| *n == "item").count(), 3, "one item per thread: {wxr}");
    assert_eq!(names.iter().filter(|n| *n == "wp:comment").count(), 9, "{wxr}");
    for state in ["1", "0", "spam", "trash"] {
        assert!(wxr.contains(&format!("<wp:comment_approved>{state}</wp:comment_approved>")), "{state}: {wxr}");
    }
    assert!(wxr.contains("Zoë 日本") && wxr.contains("🎉"), "non-ASCII as it is: {wxr}");
    assert!(wxr.contains("<wp:comment_id>1</wp:comment_id>"), "WordPress' own ids kept: {wxr}");

    let done = hub.api(&b.key).run_import("format=wxr", &wxr).await;
    assert_eq!(
        (&done["state"], &done["created"], &done["problems"]),
        (&json!("done"), &json!(9), &json!([])),
        "{done}"
    );
    let (_, _, first) = api.export("format=jsonl").await;
    let (_, _, second) = hub.api(&b.key).export("format=jsonl").await;
    assert_eq!(kept(&first).len(), 9);
    assert_eq!(kept(&first), kept(&second));
    // Parents are linked to the new tenant's own comments.
    let (_, v) = hub.api(&b.key).comments("urlId=api-thread").await;
    let list = v["comments"].as_array().unwrap();
    assert_eq!(list[1]["parentId"], list[0]["id"], "{v}");
    assert_ne!(list[0]["id"], json!(top_id));

    // Into its own tenant again: every comment found, nothing new. The two made through the
    // API had no site id and take their hub id as one (as a JSON-lines import does); after
    // that the file changes nothing.
    let again = api.run_import("format=wxr", &wxr).await;
    assert_eq!((&again["created"], &again["updated"], &again["unchanged"]), (&json!(0), &json!(2), &json!(7)), "{again}");
    let again = api.run_import("format=wxr", &wxr).await;
    assert_eq!((&again["created"], &again["updated"], &again["unchanged"]), (&json!(0), &json!(0), &json!(9)), "{again}");
    let (_, _, last) = api.export("format=jsonl").await;
    assert_eq!(kept(&first), kept(&last));
}

#[tokio::test]
async fn only_the_tenants_all_domains_secret_exports_it_as_wxr() {
    let hub = TestHub::start(BACKEND).await;
    let a = hub.tenant_owning("Alpha", &["alpha.example"]).await;
    let b = hub.tenant("Beta").await;
    hub.api(&a.key).run_import("format=wxr", WORDPRESS).await;
    // Another tenant's key exports its own (empty) tenant, never this one.
    let (s, _, theirs) = hub.api(&b.key).export("format=wxr").await;
    assert_eq!(s, StatusCode::OK);
    assert!(!elements(&theirs).contains(&"item".to_owned()), "{theirs}");
    assert!(!theirs.contains("Zoë"), "{theirs}");
    // A domain's secret may not export the whole tenant.
    let (narrow, _) = hub.api(&a.key).create_secret_for("alpha.example").await;
    let (s, v) = hub.call(reqwest::Method::GET, "/api/v1/export?format=wxr", Some(&narrow), None).await;
    assert_refused(s, &v, (StatusCode::FORBIDDEN, "all-domains-secret-required"), "");
    // No key; a key of no tenant.
    let (s, _) = hub.call(reqwest::Method::GET, "/api/v1/export?format=wxr", None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = hub.call(reqwest::Method::GET, "/api/v1/export?format=wxr", Some("no-such-key"), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // A format it does not write: said clearly.
    let (s, v) = hub.call(reqwest::Method::GET, "/api/v1/export?format=xml", Some(&a.key), None).await;
    assert_refused(s, &v, (StatusCode::BAD_REQUEST, "invalid-query"), "");
    assert!(v["reason"].as_str().unwrap().contains("jsonl or wxr"), "{v}");
}
