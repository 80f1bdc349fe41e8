//! WordPress' export (WXR): `<item>`s (posts and pages: `wp:post_id`, `<link>`, `<title>`),
//! each with its `<wp:comment>`s. A comment is stored as the WordPress plugin uploads it: its
//! thread is the post id, its source id the comment id, and `meta.wpId` / `meta.wpPostId` let
//! the plugin recognise it and not upload it again. Pingbacks and trackbacks are left out and
//! counted. What it keeps, field by field, is in docs/imports.md.

use super::xml::given;
use super::xml::{Step, Walker};
use super::{html, Item, Problem};
use fastcomments_protocol::{Millis, UploadComment};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::io::BufRead;

/// Reads a WXR file.
pub fn read(r: impl BufRead, emit: &mut dyn FnMut(Item) -> bool) -> Result<(), Problem> {
    let mut walk = Walker::new(r);
    let mut path: Vec<String> = Vec::new();
    // The current item's own fields, and the comment being read.
    let mut item: HashMap<String, String> = HashMap::new();
    let mut comment: Option<(HashMap<String, String>, (u64, u64))> = None;
    loop {
        match walk.next()? {
            Step::End => return Ok(()),
            Step::Open(name, _) => {
                if name == "item" {
                    item.clear();
                } else if name == "comment" && path.last().is_some_and(|p| p == "item") {
                    comment = Some((HashMap::new(), walk.position()));
                }
                path.push(name);
            }
            Step::Close(name, text) => {
                path.pop();
                let closes_comment = name == "comment" && path.last().is_some_and(|p| p == "item");
                match path.last().map(String::as_str) {
                    Some("item") if name != "comment" => {
                        item.insert(name, text);
                    }
                    Some("comment") => {
                        if let Some((fields, _)) = comment.as_mut() {
                            fields.insert(name, text);
                        }
                    }
                    _ => {}
                }
                if closes_comment {
                    if let Some((fields, at)) = comment.take() {
                        if !emit(comment_of(&item, &fields, at)) {
                            return Ok(());
                        }
                    }
                }
            }
        }
    }
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

fn comment_of(item: &HashMap<String, String>, f: &HashMap<String, String>, at: (u64, u64)) -> Item {
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
    let date = match date_of(given(f, "comment_date_gmt"))
        .or_else(|| date_of(given(f, "comment_date")))
    {
        Some(Ok(d)) => Some(d),
        Some(Err(why)) => return Item::Problem(Problem::at(at, format!("comment {id}: {why}"))),
        None => None,
    };
    let status = given(f, "comment_approved").unwrap_or_else(|| "1".to_owned());
    let content = f.get("comment_content").cloned().unwrap_or_default();
    let mut meta = Map::new();
    meta.insert("wpId".into(), id_value(&id));
    meta.insert("wpPostId".into(), id_value(&post_id));
    let mut extra = Map::new();
    if status == "trash" {
        extra.insert("isDeleted".into(), Value::Bool(true));
    }
    if let Some(link) = given(f, "comment_author_url") {
        extra.insert("commenterLink".into(), Value::String(link));
    }
    let parent = given(f, "comment_parent").filter(|p| p != "0");
    let comment = UploadComment {
        external_id: Some(id),
        external_parent_id: parent,
        url_id: Some(post_id),
        url: given(item, "link"),
        page_title: given(item, "title"),
        commenter_name: Some(given(f, "comment_author").unwrap_or_else(|| "Anonymous".to_owned())),
        commenter_email: given(f, "comment_author_email"),
        user_id: given(f, "comment_user_id").filter(|u| u != "0"),
        comment: html::text(&content),
        comment_html: Some(content),
        date,
        approved: Some(status == "1"),
        is_spam: Some(status == "spam"),
        meta: Some(meta),
        extra,
        ..UploadComment::default()
    };
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
