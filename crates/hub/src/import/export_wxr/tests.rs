//! The WXR writer alone: escaping read back by an XML reader, ids chosen for WordPress'
//! importer, every field that importer reads, and a file read back by our own WXR reader.

use super::*;
use crate::import::{wxr, Item};
use fastcomments_protocol::UploadComment;
use quick_xml::events::Event;
use serde_json::json;

/// The text of the one element of `xml`, as an XML reader sees it.
fn read_back(xml: &str) -> String {
    let mut r = quick_xml::Reader::from_str(xml);
    let mut text = String::new();
    loop {
        match r.read_event().unwrap() {
            Event::CData(c) => text.push_str(std::str::from_utf8(&c).unwrap()),
            Event::Text(t) => text.push_str(&t.unescape().unwrap()),
            Event::Eof => return text,
            _ => {}
        }
    }
}

#[test]
fn cdata_carries_any_text_an_xml_reader_can_read_back() {
    for (text, expected) in [
        ("plain", "plain"),
        ("a]]>b", "a]]>b"),
        ("]]]>]]>", "]]]>]]>"),
        ("]]", "]]"),
        ("x]", "x]"),
        ("line\r\nnext\r", "line\r\nnext\r"),
        ("&amp; <b>bold</b> &eacute;", "&amp; <b>bold</b> &eacute;"),
        ("Zoë 日本語 🎉", "Zoë 日本語 🎉"),
        (
            "bell\u{7}nul\u{0}\u{FFFE}\u{FFFF}tab\t",
            "bell\u{FFFD}nul\u{FFFD}\u{FFFD}\u{FFFD}tab\t",
        ),
    ] {
        let mut xml = String::from("<r>");
        cdata(&mut xml, text);
        xml.push_str("</r>");
        assert_eq!(read_back(&xml), expected, "{xml}");
    }
}

fn comment(v: serde_json::Value) -> Comment {
    let mut base = json!({
        "_id": "c", "tenantId": "t", "urlId": "p", "commenterName": "A", "comment": "hi",
        "commentHTML": "hi", "date": "2024-05-01T12:00:00.000Z", "approved": true,
    });
    if let (Some(b), Some(o)) = (base.as_object_mut(), v.as_object()) {
        b.extend(o.clone());
    }
    serde_json::from_value(base).unwrap()
}

/// A whole file of `threads`, each written as the export writes it (parents read from the
/// thread itself, not the store).
fn file(threads: &[Vec<Comment>]) -> String {
    let mut numbers = Numbers::default();
    let mut out = String::from(HEAD);
    for thread in threads {
        let post = numbers.thread(&thread[0]);
        item_head(&mut out, &thread[0], post);
        for c in thread {
            let (parent, source) = match &c.parent_id {
                None => (0, None),
                Some(p) => match numbers.known(p).cloned() {
                    Some((n, s)) => (n, Some(s)),
                    None => {
                        let p = thread.iter().find(|x| &x.id == p).unwrap();
                        (numbers.reserve(p), Some(source_id(p)))
                    }
                },
            };
            let n = numbers.comment(c, parent);
            super::comment(&mut out, c, n, parent, source.as_deref());
        }
        out.push_str("\t</item>\n");
    }
    out.push_str(TAIL);
    out
}

/// `(comment_id, comment_parent)` of each `<wp:comment>` in `xml`, and each item's post id.
fn ids(xml: &str) -> (Vec<(u64, u64)>, Vec<u64>) {
    let mut r = quick_xml::Reader::from_str(xml);
    let (mut comments, mut posts, mut name, mut id) = (Vec::new(), Vec::new(), String::new(), 0);
    loop {
        match r.read_event().unwrap() {
            Event::Start(e) => name = String::from_utf8(e.name().as_ref().to_vec()).unwrap(),
            Event::Text(t) => {
                let v = t.unescape().unwrap();
                match name.as_str() {
                    "wp:comment_id" => id = v.parse().unwrap(),
                    "wp:comment_parent" => comments.push((id, v.parse().unwrap())),
                    "wp:post_id" => posts.push(v.parse().unwrap()),
                    _ => {}
                }
            }
            Event::End(_) => name.clear(),
            Event::Eof => return (comments, posts),
            _ => {}
        }
    }
}

#[test]
fn wordpress_ids_are_kept_where_its_importer_can_use_them_and_ours_sort_after_parents() {
    let s = SYNTHETIC;
    let wp = vec![
        comment(json!({"_id": "w1", "urlId": "12", "meta": {"wpId": 7, "wpPostId": 12}})),
        comment(json!({"_id": "w2", "urlId": "12", "parentId": "w1", "meta": {"wpId": "9"}})),
        // The same WordPress id again in the thread (two sites): one of ours instead.
        comment(json!({"_id": "w3", "urlId": "12", "meta": {"wpId": 9}})),
        // A reply written before its parent: the parent is numbered first.
        comment(
            json!({"_id": "r", "urlId": "12", "parentId": "late", "date": "2024-05-01T12:00:01.000Z"}),
        ),
        comment(json!({"_id": "late", "urlId": "12", "date": "2024-05-01T12:00:02.000Z"})),
        // A WordPress id below its parent's cannot be kept: WordPress links in id order.
        comment(json!({"_id": "w4", "urlId": "12", "parentId": "late", "meta": {"wpId": 3}})),
    ];
    let ours = vec![comment(json!({"_id": "h1", "urlId": "/blog/post"}))];
    // A thread whose WordPress post id another thread took already.
    let clash = vec![comment(
        json!({"_id": "x", "urlId": "other", "meta": {"wpPostId": 12}}),
    )];
    let (comments, posts) = ids(&file(&[wp, ours, clash]));
    assert_eq!(
        comments,
        vec![
            (7, 0),
            (9, 7),
            (s + 1, 0),
            (s + 3, s + 2),
            (s + 2, 0),
            (s + 4, s + 2),
            (s + 6, 0),
            (s + 8, 0)
        ]
    );
    assert_eq!(posts, vec![12, s + 5, s + 7]);
}

/// The fields WordPress' importer (its WXR parsers) reads of an item and of a comment.
const ITEM_FIELDS: &[&str] = &[
    "title",
    "link",
    "guid",
    "dc:creator",
    "content:encoded",
    "excerpt:encoded",
    "wp:post_id",
    "wp:post_date",
    "wp:post_date_gmt",
    "wp:comment_status",
    "wp:ping_status",
    "wp:post_name",
    "wp:status",
    "wp:post_parent",
    "wp:menu_order",
    "wp:post_type",
    "wp:post_password",
    "wp:is_sticky",
    "wp:postmeta",
];
const COMMENT_FIELDS: &[&str] = &[
    "wp:comment_id",
    "wp:comment_author",
    "wp:comment_author_email",
    "wp:comment_author_IP",
    "wp:comment_author_url",
    "wp:comment_date",
    "wp:comment_date_gmt",
    "wp:comment_content",
    "wp:comment_approved",
    "wp:comment_type",
    "wp:comment_parent",
    "wp:comment_user_id",
    "wp:commentmeta",
];

#[test]
fn every_field_wordpress_reads_is_written_in_a_well_formed_file() {
    let xml = file(&[vec![comment(json!({}))]]);
    let mut r = quick_xml::Reader::from_str(&xml);
    r.config_mut().check_end_names = true;
    let mut path: Vec<String> = Vec::new();
    let (mut item, mut comment_fields, mut channel) = (Vec::new(), Vec::new(), Vec::new());
    loop {
        match r.read_event().unwrap() {
            Event::Start(e) => {
                let name = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
                match path.last().map(String::as_str) {
                    Some("item") => item.push(name.clone()),
                    Some("wp:comment") => comment_fields.push(name.clone()),
                    Some("channel") => channel.push(name.clone()),
                    _ => {}
                }
                path.push(name);
            }
            Event::End(_) => {
                path.pop();
            }
            Event::DocType(_) => panic!("WordPress' importer refuses a file with a DOCTYPE"),
            Event::Eof => break,
            _ => {}
        }
    }
    assert!(path.is_empty());
    for f in ITEM_FIELDS {
        assert!(item.iter().any(|i| i == f), "item lacks {f}: {xml}");
    }
    for f in COMMENT_FIELDS {
        assert!(
            comment_fields.iter().any(|i| i == f),
            "comment lacks {f}: {xml}"
        );
    }
    assert!(
        channel.iter().any(|c| c == "wp:wxr_version"),
        "WordPress needs the version"
    );
}

fn read(xml: &str) -> Vec<UploadComment> {
    let mut got = Vec::new();
    wxr::read(xml.as_bytes(), &mut |i| {
        match i {
            Item::Comment(c) => got.push(*c),
            other => panic!("{other:?}"),
        }
        true
    })
    .unwrap();
    got
}

#[test]
fn the_file_reads_back_as_the_same_comments() {
    let nasty = "Text with ]]> and \r\n, <b>tags</b> &amp; entities, Zoë 日本 🎉";
    let thread = vec![
        comment(json!({
            "_id": "h1", "urlId": "/a?b=1", "url": "https://blog.example/a", "pageTitle": "A ]]> title",
            "externalId": "O:8:\"stdClass\":0:{}", "commenterName": "Zoë", "commenterEmail": "z@example.com",
            "userId": "u-1", "commentHTML": nasty, "date": "2024-05-01T12:00:00.123Z", "votes": 2,
            "votesUp": 3, "votesDown": 1, "meta": {"k": [1, 2]}, "commenterLink": "https://z.example",
        })),
        comment(
            json!({"_id": "h2", "parentId": "h1", "urlId": "/a?b=1", "isSpam": true, "approved": true,
            "date": "2024-05-01T12:00:01.000Z"}),
        ),
        comment(
            json!({"_id": "h3", "parentId": "h1", "urlId": "/a?b=1", "isDeleted": true, "isSpam": true,
            "approved": false, "date": "2024-05-01T12:00:02.000Z"}),
        ),
        comment(
            json!({"_id": "h4", "urlId": "/a?b=1", "approved": false, "comment": "1 < 2 & 3",
            "commentHTML": "", "date": "2024-05-01T12:00:03.000Z"}),
        ),
        comment(
            json!({"_id": "w", "urlId": "/a?b=1", "externalId": "5", "meta": {"wpId": 5, "wpPostId": 9},
            "date": "2024-05-01T12:00:04.000Z"}),
        ),
    ];
    let xml = file(std::slice::from_ref(&thread));
    // A PHP-serialized-looking id is written as JSON text, which WordPress leaves alone.
    assert!(
        xml.contains(r#"O:8:\"stdClass\""#) && !xml.contains(">O:8:"),
        "{xml}"
    );
    let got = read(&xml);
    assert_eq!(got.len(), 5);
    let first = &got[0];
    assert_eq!(
        (
            first.id.as_deref(),
            first.external_id.as_deref(),
            first.url_id.as_deref()
        ),
        (Some("h1"), Some("O:8:\"stdClass\":0:{}"), Some("/a?b=1"))
    );
    assert_eq!(first.comment_html.as_deref(), Some(nasty));
    assert_eq!(
        first.date,
        Some(Millis::parse("2024-05-01T12:00:00.123Z").unwrap())
    );
    assert_eq!(
        (
            first.commenter_name.as_deref(),
            first.commenter_email.as_deref(),
            first.user_id.as_deref()
        ),
        (Some("Zoë"), Some("z@example.com"), Some("u-1"))
    );
    assert_eq!(
        (first.votes, first.votes_up, first.votes_down),
        (Some(2), Some(3), Some(1))
    );
    assert_eq!(
        first.meta,
        Some(json!({"k": [1, 2]}).as_object().unwrap().clone())
    );
    assert_eq!(first.page_title.as_deref(), Some("A ]]> title"));
    assert_eq!(
        first.extra.get("commenterLink"),
        Some(&json!("https://z.example"))
    );
    let states: Vec<_> = got
        .iter()
        .map(|c| {
            (
                c.approved,
                c.is_spam,
                c.extra.get("isDeleted").cloned(),
                c.external_parent_id.clone(),
            )
        })
        .collect();
    let parent = Some("O:8:\"stdClass\":0:{}".to_owned());
    assert_eq!(
        states,
        vec![
            (Some(true), Some(false), None, None),
            (Some(true), Some(true), None, parent.clone()),
            (Some(false), Some(true), Some(json!(true)), parent),
            (Some(false), Some(false), None, None),
            (Some(true), Some(false), None, None),
        ]
    );
    assert_eq!(
        (got[3].comment.as_str(), got[3].comment_html.as_deref()),
        ("1 < 2 & 3", Some("1 &lt; 2 &amp; 3"))
    );
    assert_eq!(got[4].external_id.as_deref(), Some("5"));
    assert_eq!(
        got[4].meta,
        Some(
            json!({"wpId": 5, "wpPostId": 9})
                .as_object()
                .unwrap()
                .clone()
        )
    );
    assert!(xml.contains("<wp:comment_approved>spam</wp:comment_approved>"));
    assert!(xml.contains("<wp:comment_approved>trash</wp:comment_approved>"));
}

#[test]
fn a_state_or_date_changed_in_wordpress_wins_over_the_hub_meta() {
    let xml = file(&[vec![comment(
        json!({"isSpam": true, "approved": true, "date": "2024-05-01T12:00:00.500Z"}),
    )]]);
    let edited = xml
        .replace("<wp:comment_approved>spam<", "<wp:comment_approved>0<")
        .replace(
            "<wp:comment_date_gmt>2024-05-01 12:00:00<",
            "<wp:comment_date_gmt>2024-06-01 08:00:00<",
        );
    let got = read(&edited);
    assert_eq!(
        (got[0].approved, got[0].is_spam),
        (Some(false), Some(false))
    );
    assert_eq!(
        got[0].date,
        Some(Millis::parse("2024-06-01T08:00:00Z").unwrap())
    );
    // The thread had no title: the one WordPress was given (its urlId) is not read back.
    assert!(xml.contains("<title><![CDATA[p]]></title>"), "{xml}");
    assert_eq!(got[0].page_title, None);
}
