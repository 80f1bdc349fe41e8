//! Disqus' XML export: `<category>`s, then `<thread>`s (each a page: `dsq:id`, its
//! identifier `<id>`, `<link>`, `<title>`), then `<post>`s (each a comment naming its thread and
//! parent by `dsq:id`). What it keeps, field by field, is in docs/imports.md.
//!
//! A post's source id is `disqus-` and its `dsq:id`, so importing the file again finds each
//! comment again; its parent is named the same way, so a reply linked before its parent waits
//! for it.

use super::xml::given;
use super::xml::{attr, Step, Walker};
use super::{html, Item, Problem};
use fastcomments_protocol::{Millis, UploadComment};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::io::BufRead;

/// A thread as the posts need it.
#[derive(Debug, Clone, Default)]
struct Thread {
    url_id: String,
    url: Option<String>,
    title: Option<String>,
}

/// What a `<thread>` or `<post>` holds, as it is read.
#[derive(Debug, Default)]
struct Record {
    dsq_id: String,
    fields: HashMap<String, String>,
    thread: Option<String>,
    parent: Option<String>,
    at: (u64, u64),
}

/// Reads a Disqus export.
pub fn read(r: impl BufRead, emit: &mut dyn FnMut(Item) -> bool) -> Result<(), Problem> {
    let mut walk = Walker::new(r);
    let mut threads: HashMap<String, Thread> = HashMap::new();
    // The record being read: `thread` or `post`, directly under the root.
    let mut current: Option<(String, Record)> = None;
    let mut path: Vec<String> = Vec::new();
    loop {
        match walk.next()? {
            Step::End => return Ok(()),
            Step::Open(name, attrs) => {
                if path.len() == 1 && (name == "thread" || name == "post") {
                    let record = Record {
                        dsq_id: attr(&attrs, "id").unwrap_or_default().to_owned(),
                        at: walk.position(),
                        ..Record::default()
                    };
                    current = Some((name.clone(), record));
                } else if let Some((_, record)) = current.as_mut().filter(|_| path.len() == 2) {
                    // A post names its thread and parent by attribute.
                    match name.as_str() {
                        "thread" => record.thread = attr(&attrs, "id").map(str::to_owned),
                        "parent" => record.parent = attr(&attrs, "id").map(str::to_owned),
                        _ => {}
                    }
                }
                path.push(name);
            }
            Step::Close(name, text) => {
                path.pop();
                if let Some((_, record)) = current.as_mut() {
                    if path.len() >= 2 {
                        // `author/name` and the like are kept by their last two names.
                        let key = if path.len() == 3 {
                            format!("{}/{name}", path[2])
                        } else {
                            name.clone()
                        };
                        if path.len() <= 3 {
                            record.fields.insert(key, text);
                        }
                    }
                }
                if path.len() == 1 {
                    if let Some((kind, record)) = current.take() {
                        let item = if kind == "thread" {
                            let thread = thread_of(&record);
                            threads.insert(record.dsq_id.clone(), thread);
                            None
                        } else {
                            Some(post(&record, &threads))
                        };
                        if let Some(item) = item {
                            if !emit(item) {
                                return Ok(());
                            }
                        }
                    }
                }
            }
        }
    }
}

fn flag(fields: &HashMap<String, String>, key: &str) -> bool {
    given(fields, key).is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// A thread's page: its identifier when it has one, else its link, else its Disqus id.
fn thread_of(record: &Record) -> Thread {
    let link = given(&record.fields, "link");
    let url_id = given(&record.fields, "id")
        .or_else(|| link.clone())
        .unwrap_or_else(|| format!("disqus-thread-{}", record.dsq_id));
    Thread {
        url_id,
        url: link,
        title: given(&record.fields, "title"),
    }
}

fn post(record: &Record, threads: &HashMap<String, Thread>) -> Item {
    let f = &record.fields;
    if record.dsq_id.is_empty() {
        return Item::Problem(Problem::at(record.at, "a post without its dsq:id"));
    }
    let Some(thread_id) = record.thread.as_deref() else {
        return Item::Problem(Problem::at(
            record.at,
            format!("post {} names no thread", record.dsq_id),
        ));
    };
    let Some(thread) = threads.get(thread_id) else {
        return Item::Problem(Problem::at(
            record.at,
            format!(
                "post {} names thread {thread_id}, which the file has not defined before it",
                record.dsq_id
            ),
        ));
    };
    let date = match given(f, "createdAt").map(|d| Millis::parse(&d)) {
        Some(Ok(d)) => Some(d),
        Some(Err(e)) => {
            return Item::Problem(Problem::at(
                record.at,
                format!("post {}: createdAt is not a date: {e}", record.dsq_id),
            ))
        }
        None => None,
    };
    let message = f.get("message").cloned().unwrap_or_default();
    let spam = flag(f, "isSpam");
    let deleted = flag(f, "isDeleted");
    let mut meta = Map::new();
    meta.insert("disqusId".into(), Value::String(record.dsq_id.clone()));
    meta.insert("disqusThreadId".into(), Value::String(thread_id.to_owned()));
    let mut extra = Map::new();
    if deleted {
        extra.insert("isDeleted".into(), Value::Bool(true));
    }
    let name = given(f, "author/name")
        .or_else(|| given(f, "author/username"))
        .unwrap_or_else(|| "Anonymous".to_owned());
    let comment = UploadComment {
        external_id: Some(format!("disqus-{}", record.dsq_id)),
        external_parent_id: record.parent.as_ref().map(|p| format!("disqus-{p}")),
        url_id: Some(thread.url_id.clone()),
        url: thread.url.clone(),
        page_title: thread.title.clone(),
        commenter_name: Some(name),
        commenter_email: given(f, "author/email"),
        user_id: given(f, "author/username"),
        comment: html::text(&message),
        comment_html: Some(message),
        date,
        approved: Some(!spam && !deleted),
        is_spam: Some(spam),
        meta: Some(meta),
        extra,
        ..UploadComment::default()
    };
    Item::checked(comment, record.at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(xml: &str) -> (Vec<Item>, Result<(), Problem>) {
        let mut got = Vec::new();
        let r = read(xml.as_bytes(), &mut |i| {
            got.push(i);
            true
        });
        (got, r)
    }

    const EXPORT: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<disqus xmlns="http://disqus.com" xmlns:dsq="http://disqus.com/disqus-internals">
  <category dsq:id="1"><forum>blog</forum><title>General</title><isDefault>true</isDefault></category>
  <thread dsq:id="10"><id>post-1</id><forum>blog</forum><category dsq:id="1"/><link>https://blog.example/1</link><title>Post &amp; one</title><isDeleted>false</isDeleted></thread>
  <thread dsq:id="11"><id></id><link>https://blog.example/2</link><title>Two</title></thread>
  <post dsq:id="101"><id/><message><![CDATA[<p>Reply before its parent</p>]]></message><createdAt>2013-01-02T00:00:00Z</createdAt><isDeleted>false</isDeleted><isSpam>false</isSpam><author><name>Zoë</name><isAnonymous>true</isAnonymous></author><thread dsq:id="10"/><parent dsq:id="100"/></post>
  <post dsq:id="100"><message><![CDATA[Hello <b>world</b>]]></message><createdAt>2013-01-01T00:00:00Z</createdAt><isDeleted>true</isDeleted><isSpam>false</isSpam><author><email>ana@example.com</email><name>Ana</name><username>ana</username></author><thread dsq:id="11"/></post>
  <post dsq:id="102"><message>spam</message><createdAt>2013-01-03T00:00:00Z</createdAt><isSpam>true</isSpam><author><name>Bot</name></author><thread dsq:id="99"/></post>
</disqus>"#;

    #[test]
    fn posts_become_comments_of_their_threads() {
        let (items, end) = items(EXPORT);
        assert_eq!(end, Ok(()));
        let comments: Vec<&UploadComment> = items
            .iter()
            .filter_map(|i| match i {
                Item::Comment(c) => Some(&**c),
                _ => None,
            })
            .collect();
        assert_eq!(comments.len(), 2);
        let reply = comments[0];
        assert_eq!(reply.external_id.as_deref(), Some("disqus-101"));
        assert_eq!(reply.external_parent_id.as_deref(), Some("disqus-100"));
        assert_eq!(
            (reply.url_id.as_deref(), reply.page_title.as_deref()),
            (Some("post-1"), Some("Post & one"))
        );
        assert_eq!(
            (
                reply.commenter_name.as_deref(),
                reply.commenter_email.as_deref()
            ),
            (Some("Zoë"), None)
        );
        assert_eq!(reply.comment, "Reply before its parent");
        let parent = comments[1];
        assert_eq!(
            parent.url_id.as_deref(),
            Some("https://blog.example/2"),
            "an empty identifier: the link"
        );
        assert_eq!(parent.approved, Some(false));
        assert_eq!(parent.extra.get("isDeleted"), Some(&Value::Bool(true)));
        assert_eq!(parent.date, Some(Millis(1_356_998_400_000)));
        assert_eq!(parent.comment_html.as_deref(), Some("Hello <b>world</b>"));
        let Item::Problem(p) = &items[2] else {
            panic!("{:?}", items[2])
        };
        assert!(p.message.contains("thread 99"), "{p:?}");
        assert_eq!(p.line, 8);
    }

    #[test]
    fn broken_xml_stops_with_its_position() {
        let (_, end) = items("<disqus>\n<thread dsq:id=\"1\"><id>x</id></post>\n</disqus>");
        let p = end.unwrap_err();
        assert_eq!(p.line, 2, "{p:?}");
    }
}
