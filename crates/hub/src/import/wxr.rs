//! WordPress' export (WXR): `<item>`s (posts and pages: `wp:post_id`, `<link>`, `<title>`),
//! each with its `<wp:comment>`s. A comment is stored as the WordPress plugin uploads it: its
//! thread is the post id, its source id the comment id, and `meta.wpId` / `meta.wpPostId` let
//! the plugin recognise it and not upload it again. Pingbacks and trackbacks are left out and
//! counted. A file the hub exported carries the hub's own ids and what else WXR has no field
//! for in the comment meta `fastcomments` (and the thread's `urlId` in the post meta
//! `fastcomments_url_id`): read back, they find the same comments. What it keeps, field by
//! field, is in docs/imports.md.

use super::export_wxr::{META_KEY, UNTITLED_KEY, URL_ID_KEY};
use super::xml::given;
use super::xml::{Step, Walker};
use super::{html, Item, Problem};
use fastcomments_protocol::{Millis, UploadComment};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::io::BufRead;

/// A `wp:commentmeta` or `wp:postmeta`: key and value.
type MetaPair = (String, String);

/// A comment being read: its fields, its comment meta, where it starts.
type Open = (HashMap<String, String>, Vec<MetaPair>, (u64, u64));

/// Reads a WXR file.
pub fn read(r: impl BufRead, emit: &mut dyn FnMut(Item) -> bool) -> Result<(), Problem> {
    let mut walk = Walker::new(r);
    let mut path: Vec<String> = Vec::new();
    // The current item's own fields and post meta, the comment being read (fields, comment
    // meta, where it starts), and the meta entry being read.
    let mut item: HashMap<String, String> = HashMap::new();
    let mut item_meta: Vec<MetaPair> = Vec::new();
    let mut comment: Option<Open> = None;
    let mut pair = MetaPair::default();
    loop {
        match walk.next()? {
            Step::End => return Ok(()),
            Step::Open(name, _) => {
                let parent = path.last().map(String::as_str);
                if name == "item" {
                    item.clear();
                    item_meta.clear();
                } else if name == "comment" && parent == Some("item") {
                    comment = Some((HashMap::new(), Vec::new(), walk.position()));
                } else if name == "commentmeta" || name == "postmeta" {
                    pair = MetaPair::default();
                }
                path.push(name);
            }
            Step::Close(name, text) => {
                path.pop();
                let parent = path.last().map(String::as_str);
                match (parent, name.as_str()) {
                    (Some("commentmeta" | "postmeta"), "meta_key") => pair.0 = text,
                    (Some("commentmeta" | "postmeta"), "meta_value") => pair.1 = text,
                    (Some("comment"), "commentmeta") => {
                        if let Some((_, metas, _)) = comment.as_mut() {
                            metas.push(std::mem::take(&mut pair));
                        }
                    }
                    (Some("item"), "postmeta") => item_meta.push(std::mem::take(&mut pair)),
                    (Some("item"), "comment") => {
                        if let Some((fields, metas, at)) = comment.take() {
                            let post = Post {
                                fields: &item,
                                meta: &item_meta,
                            };
                            if !emit(comment_of(&post, &fields, &metas, at)) {
                                return Ok(());
                            }
                        }
                    }
                    (Some("item"), _) => {
                        item.insert(name, text);
                    }
                    (Some("comment"), _) => {
                        if let Some((fields, _, _)) = comment.as_mut() {
                            fields.insert(name, text);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

/// The item (post) a comment is in.
struct Post<'a> {
    fields: &'a HashMap<String, String>,
    meta: &'a [MetaPair],
}

/// The value of meta `key`.
fn meta_of<'a>(metas: &'a [MetaPair], key: &str) -> Option<&'a str> {
    metas
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// A WordPress id as the plugin writes it in `meta`: a number when it is one.
fn id_value(id: &str) -> Value {
    id.parse::<u64>()
        .map_or_else(|_| Value::String(id.to_owned()), Value::from)
}

/// `2024-05-01 12:00:00` (UTC: `comment_date_gmt`), or `None` for WordPress' zero date.
fn date_of(text: Option<String>) -> Option<Result<Millis, String>> {
    let text = text.filter(|t| !t.starts_with("0000-00-00"))?;
    Some(Millis::parse(&text).map_err(|e| format!("{text:?} is not a date: {e}")))
}

fn comment_of(
    post: &Post<'_>,
    f: &HashMap<String, String>,
    metas: &[MetaPair],
    at: (u64, u64),
) -> Item {
    let item = post.fields;
    let Some(id) = given(f, "comment_id") else {
        return Item::Problem(Problem::at(at, "a comment without its wp:comment_id"));
    };
    let kind = given(f, "comment_type").unwrap_or_default();
    if kind == "pingback" || kind == "trackback" {
        return Item::Skipped(Problem::at(at, format!("comment {id} is a {kind}")));
    }
    let Some(post_id) = given(item, "post_id") else {
        return Item::Problem(Problem::at(
            at,
            format!("comment {id} is in an item without wp:post_id"),
        ));
    };
    // A file the hub wrote carries what WXR has no field for (export_wxr.rs).
    let hub = match meta_of(metas, META_KEY).map(serde_json::from_str::<Map<String, Value>>) {
        None => None,
        Some(Ok(h)) => Some(h),
        Some(Err(e)) => {
            return Item::Problem(Problem::at(
                at,
                format!("comment {id}: its {META_KEY} meta is not a JSON object: {e}"),
            ))
        }
    };
    let url_id = match meta_of(post.meta, URL_ID_KEY).map(serde_json::from_str::<String>) {
        None => Some(post_id.clone()),
        Some(Ok(u)) => Some(u),
        Some(Err(e)) => {
            return Item::Problem(Problem::at(
                at,
                format!("comment {id}: its post's {URL_ID_KEY} meta is not a JSON string: {e}"),
            ))
        }
    };
    let mut date = match date_of(given(f, "comment_date_gmt"))
        .or_else(|| date_of(given(f, "comment_date")))
    {
        Some(Ok(d)) => Some(d),
        Some(Err(why)) => return Item::Problem(Problem::at(at, format!("comment {id}: {why}"))),
        None => None,
    };
    let status = given(f, "comment_approved").unwrap_or_else(|| "1".to_owned());
    let mut approved = status == "1";
    let mut is_spam = status == "spam";
    let content = f.get("comment_content").cloned().unwrap_or_default();
    let mut extra = Map::new();
    if status == "trash" {
        extra.insert("isDeleted".into(), Value::Bool(true));
    }
    if let Some(link) = given(f, "comment_author_url") {
        extra.insert("commenterLink".into(), Value::String(link));
    }
    let mut comment = UploadComment {
        external_id: Some(id.clone()),
        external_parent_id: given(f, "comment_parent").filter(|p| p != "0"),
        url_id: url_id.clone(),
        url: given(item, "link"),
        // A title the hub's export made up (the urlId) is no title, unless changed since.
        page_title: given(item, "title")
            .filter(|t| meta_of(post.meta, UNTITLED_KEY).is_none() || Some(t) != url_id.as_ref()),
        commenter_name: Some(given(f, "comment_author").unwrap_or_else(|| "Anonymous".to_owned())),
        commenter_email: given(f, "comment_author_email"),
        user_id: given(f, "comment_user_id").filter(|u| u != "0"),
        comment: html::text(&content),
        comment_html: Some(content),
        extra,
        ..UploadComment::default()
    };
    match hub {
        None => {
            let mut meta = Map::new();
            meta.insert("wpId".into(), id_value(&id));
            meta.insert("wpPostId".into(), id_value(&post_id));
            comment.meta = Some(meta);
        }
        Some(h) => {
            let text = |k: &str| h.get(k).and_then(Value::as_str).map(str::to_owned);
            comment.id = text("id");
            comment.external_id = text("externalId").or(comment.external_id);
            if let Some(parent) = h.get("parentExternalId") {
                comment.external_parent_id = parent.as_str().map(str::to_owned);
            }
            comment.user_id = text("userId");
            comment.meta = h.get("meta").and_then(Value::as_object).cloned();
            comment.votes = h.get("votes").and_then(Value::as_i64);
            comment.votes_up = h.get("votesUp").and_then(Value::as_i64);
            comment.votes_down = h.get("votesDown").and_then(Value::as_i64);
            // The exact instant, unless the file's date was changed since.
            let exact = text("date").and_then(|d| Millis::parse(&d).ok());
            if let (Some(exact), Some(d)) = (exact, date) {
                if exact.0.div_euclid(1000) == d.0.div_euclid(1000) {
                    date = Some(exact);
                }
            }
            // A state WordPress has no word for (a binned or spam comment's approval, a binned
            // spam comment), unless the file's state was changed since.
            let flag = |k: &str| h.get(k).and_then(Value::as_bool);
            match status.as_str() {
                "trash" => {
                    approved = flag("approved").unwrap_or(false);
                    is_spam = flag("isSpam").unwrap_or(false);
                }
                "spam" => approved = flag("approved").unwrap_or(false),
                _ => {}
            }
        }
    }
    comment.date = date;
    comment.approved = Some(approved);
    comment.is_spam = Some(is_spam);
    Item::checked(comment, at)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXPORT: &str = r#"<?xml version="1.0" encoding="UTF-8" ?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:wp="http://wordpress.org/export/1.2/">
<channel>
  <title>Blog</title>
  <wp:wxr_version>1.2</wp:wxr_version>
  <item>
    <title><![CDATA[Hello world!]]></title>
    <link>https://blog.example/hello-world/</link>
    <wp:post_id>12</wp:post_id>
    <wp:post_type><![CDATA[post]]></wp:post_type>
    <wp:comment>
      <wp:comment_id>2</wp:comment_id>
      <wp:comment_author><![CDATA[Zoë]]></wp:comment_author>
      <wp:comment_author_email><![CDATA[]]></wp:comment_author_email>
      <wp:comment_date_gmt><![CDATA[2024-05-01 12:03:10]]></wp:comment_date_gmt>
      <wp:comment_content><![CDATA[Thanks &amp; <a href="https://example.com">see</a>]]></wp:comment_content>
      <wp:comment_approved><![CDATA[0]]></wp:comment_approved>
      <wp:comment_type><![CDATA[comment]]></wp:comment_type>
      <wp:comment_parent>1</wp:comment_parent>
      <wp:comment_user_id>0</wp:comment_user_id>
      <wp:commentmeta><wp:meta_key><![CDATA[akismet_result]]></wp:meta_key><wp:meta_value><![CDATA[false]]></wp:meta_value></wp:commentmeta>
    </wp:comment>
    <wp:comment>
      <wp:comment_id>3</wp:comment_id>
      <wp:comment_author><![CDATA[Other blog]]></wp:comment_author>
      <wp:comment_content><![CDATA[ping]]></wp:comment_content>
      <wp:comment_approved><![CDATA[1]]></wp:comment_approved>
      <wp:comment_type><![CDATA[pingback]]></wp:comment_type>
    </wp:comment>
    <wp:comment>
      <wp:comment_id>4</wp:comment_id>
      <wp:comment_author><![CDATA[Binned]]></wp:comment_author>
      <wp:comment_date_gmt>0000-00-00 00:00:00</wp:comment_date_gmt>
      <wp:comment_date>2024-05-02 08:00:00</wp:comment_date>
      <wp:comment_content><![CDATA[gone]]></wp:comment_content>
      <wp:comment_approved><![CDATA[trash]]></wp:comment_approved>
      <wp:comment_parent>0</wp:comment_parent>
    </wp:comment>
  </item>
</channel>
</rss>"#;

    #[test]
    fn comments_are_stored_as_the_wordpress_plugin_uploads_them() {
        let mut got = Vec::new();
        read(EXPORT.as_bytes(), &mut |i| {
            got.push(i);
            true
        })
        .unwrap();
        let Item::Comment(reply) = &got[0] else {
            panic!("{:?}", got[0])
        };
        assert_eq!(
            (
                reply.external_id.as_deref(),
                reply.external_parent_id.as_deref()
            ),
            (Some("2"), Some("1"))
        );
        assert_eq!(
            (reply.url_id.as_deref(), reply.page_title.as_deref()),
            (Some("12"), Some("Hello world!"))
        );
        assert_eq!(reply.commenter_email, None, "an empty e-mail is none");
        assert_eq!(reply.comment, "Thanks & see");
        assert_eq!(reply.approved, Some(false));
        let meta = reply.meta.clone().unwrap();
        assert_eq!(
            (meta["wpId"].clone(), meta["wpPostId"].clone()),
            (Value::from(2), Value::from(12))
        );
        assert_eq!(
            reply.date,
            Some(Millis::parse("2024-05-01T12:03:10Z").unwrap())
        );
        let Item::Skipped(p) = &got[1] else {
            panic!("{:?}", got[1])
        };
        assert!(p.message.contains("pingback"));
        let Item::Comment(binned) = &got[2] else {
            panic!("{:?}", got[2])
        };
        assert_eq!(binned.extra.get("isDeleted"), Some(&Value::Bool(true)));
        assert_eq!(binned.external_parent_id, None);
        assert_eq!(
            binned.date,
            Some(Millis::parse("2024-05-02T08:00:00Z").unwrap())
        );
        assert_eq!(got.len(), 3);
    }
}
