//! Export as a WordPress export file (WXR 1.2: RSS 2.0 with the `wp:` elements WordPress' own
//! importer reads): one `<item>` (a post) per thread, its comments as `<wp:comment>`s.
//!
//! The tenant is read thread by thread in keyset pages (`comments_by_thread_after`) as the body
//! is written. Memory holds one page and, for the thread being written, each comment's number;
//! across threads only the post ids used (one number a thread).
//!
//! WordPress wants integer ids and links a reply only to a parent that precedes it in the
//! item's id order, so ids are chosen as follows (see [`Numbers`]): a comment that came from
//! WordPress keeps its `meta.wpId` when that still sorts after its parent; every other comment
//! gets a number from [`SYNTHETIC`] up, in the order written, its parent numbered first. What
//! WXR has no field for (the hub's ids, the exact date, votes, `meta`, a spam comment's
//! approval) rides in the comment meta `fastcomments` as JSON, so importing the file back
//! finds the same comments (docs/imports.md).

use super::export::{source_id, Lines, PAGE};
use crate::hub::Hub;
use crate::ids::TenantId;
use bytes::Bytes;
use fastcomments_protocol::{Comment, Millis};
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::Arc;

/// The first number given to a comment or thread without a WordPress id: far above any
/// WordPress site's own ids, so the two never meet.
pub const SYNTHETIC: u64 = 1_000_000_000_000;

/// The comment meta holding what WXR has no field for.
pub const META_KEY: &str = "fastcomments";

/// The post meta holding the thread's `urlId` (the post id may be a number of ours).
pub const URL_ID_KEY: &str = "fastcomments_url_id";

/// The post meta marking a title that is the thread's `urlId` only because it had none.
pub const UNTITLED_KEY: &str = "fastcomments_untitled";

/// The file's start, up to the first item.
pub const HEAD: &str = concat!(
    "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n",
    "<rss version=\"2.0\"\n",
    "\txmlns:excerpt=\"http://wordpress.org/export/1.2/excerpt/\"\n",
    "\txmlns:content=\"http://purl.org/rss/1.0/modules/content/\"\n",
    "\txmlns:wfw=\"http://wellformedweb.org/CommentAPI/\"\n",
    "\txmlns:dc=\"http://purl.org/dc/elements/1.1/\"\n",
    "\txmlns:wp=\"http://wordpress.org/export/1.2/\"\n>\n",
    "<channel>\n",
    "\t<title>Comments exported from the FastComments hub</title>\n",
    "\t<link></link>\n",
    "\t<description></description>\n",
    "\t<wp:wxr_version>1.2</wp:wxr_version>\n",
    "\t<wp:base_site_url></wp:base_site_url>\n",
    "\t<wp:base_blog_url></wp:base_blog_url>\n",
    "\t<generator>fastcomments-hub</generator>\n",
);

/// The file's end.
pub const TAIL: &str = "</channel>\n</rss>\n";

/// Whether XML 1.0 allows `c` in a document at all (even as a character reference).
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// `text` as element content: CDATA sections, split where the text holds `]]>` (which would
/// end one) and around carriage returns (a reader turns a raw `\r\n` into `\n`, so they go as
/// `&#13;`); characters XML cannot carry at all become U+FFFD.
pub fn cdata(out: &mut String, text: &str) {
    out.push_str("<![CDATA[");
    let mut rest = text;
    while let Some(i) = rest.find(|c: char| c == '\r' || c == ']' || !xml_char(c)) {
        out.push_str(&rest[..i]);
        let c = rest[i..].chars().next().unwrap_or(']');
        let after = &rest[i + c.len_utf8()..];
        match c {
            '\r' => out.push_str("]]>&#13;<![CDATA["),
            ']' if after.starts_with("]>") => {
                // `]]` in this section, `>` in the next: no section holds `]]>`.
                out.push_str("]]]]><![CDATA[>");
                rest = &after[2..];
                continue;
            }
            ']' => out.push(']'),
            _ => out.push('\u{FFFD}'),
        }
        rest = after;
    }
    out.push_str(rest);
    out.push_str("]]>");
}

/// `<tag><![CDATA[text]]></tag>` with a tab before.
fn field(out: &mut String, indent: &str, tag: &str, text: &str) {
    let _ = write!(out, "{indent}<{tag}>");
    cdata(out, text);
    let _ = writeln!(out, "</{tag}>");
}

/// `<tag>n</tag>` for what is never anything but a number or a fixed word.
fn plain(out: &mut String, indent: &str, tag: &str, value: impl std::fmt::Display) {
    let _ = writeln!(out, "{indent}<{tag}>{value}</{tag}>");
}

/// `2024-05-01 12:03:10`: WordPress' date form (UTC, whole seconds).
pub fn wp_date(d: Millis) -> String {
    let iso = d.to_iso();
    iso.get(..19).unwrap_or(&iso).replacen('T', " ", 1)
}

/// Text as HTML, for a comment that has no HTML of its own.
fn html_of_text(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\n', "<br>\n")
}

/// A positive integer below [`SYNTHETIC`], as WordPress' plugin writes ids in `meta` (a number
/// or its text).
fn wp_number(v: Option<&Value>) -> Option<u64> {
    let n = match v? {
        Value::Number(n) => n.as_u64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    (n > 0 && n < SYNTHETIC).then_some(n)
}

fn meta_number(c: &Comment, key: &str) -> Option<u64> {
    wp_number(c.meta.as_ref().and_then(|m| m.get(key)))
}

/// The comment's WordPress state: `trash`, `spam`, `1` (approved) or `0`.
pub fn status(c: &Comment) -> &'static str {
    if is_deleted(c) {
        "trash"
    } else {
        live_status(c)
    }
}

/// The comment's state out of the bin: `spam`, `1` (approved) or `0`.
fn live_status(c: &Comment) -> &'static str {
    if c.is_spam {
        "spam"
    } else if c.approved {
        "1"
    } else {
        "0"
    }
}

fn is_deleted(c: &Comment) -> bool {
    c.extra.get("isDeleted").and_then(Value::as_bool) == Some(true)
}

/// The ids of one file: the thread being written's comments, and every thread's post id.
#[derive(Default)]
pub struct Numbers {
    next: u64,
    /// Hub id → (number, source id), for the thread being written.
    thread: HashMap<String, (u64, String)>,
    /// WordPress ids kept in the thread being written.
    kept: HashSet<u64>,
    /// Post ids given so far.
    posts: HashSet<u64>,
}

impl Numbers {
    fn synthetic(&mut self) -> u64 {
        self.next += 1;
        SYNTHETIC + self.next
    }

    /// A new thread starts; its post id: its WordPress post id (`meta.wpPostId`, else a
    /// numeric `urlId`) unless another thread took it, else one of ours.
    pub fn thread(&mut self, first: &Comment) -> u64 {
        self.thread.clear();
        self.kept.clear();
        let wp = meta_number(first, "wpPostId")
            .or_else(|| wp_number(Some(&Value::String(first.url_id.clone()))));
        let id = match wp {
            Some(n) if !self.posts.contains(&n) => n,
            _ => self.synthetic(),
        };
        self.posts.insert(id);
        id
    }

    /// The number of a comment of this thread that is not written yet (a reply dated before
    /// its parent names it first).
    pub fn reserve(&mut self, c: &Comment) -> u64 {
        if let Some((n, _)) = self.thread.get(&c.id) {
            return *n;
        }
        let n = self.synthetic();
        self.thread.insert(c.id.clone(), (n, source_id(c)));
        n
    }

    /// The number and source id of this thread's comment `id`, when it has one.
    pub fn known(&self, id: &str) -> Option<&(u64, String)> {
        self.thread.get(id)
    }

    /// `c`'s number, given its parent's (0: none in this item). A reserved one stands; a
    /// WordPress id is kept when it is free in this item and sorts after the parent's.
    pub fn comment(&mut self, c: &Comment, parent: u64) -> u64 {
        if let Some((n, _)) = self.thread.get(&c.id) {
            return *n;
        }
        let n = match meta_number(c, "wpId") {
            Some(wp) if wp > parent && !self.kept.contains(&wp) => {
                self.kept.insert(wp);
                wp
            }
            _ => self.synthetic(),
        };
        self.thread.insert(c.id.clone(), (n, source_id(c)));
        n
    }
}

/// `<item>` up to its comments, for the thread whose first comment is `first`.
pub fn item_head(out: &mut String, first: &Comment, post_id: u64) {
    // WordPress wants a title; a thread without one is shown by its urlId.
    let given = first.page_title.clone().filter(|t| !t.trim().is_empty());
    let title = given.clone().unwrap_or_else(|| first.url_id.clone());
    let link = first.url.clone().unwrap_or_default();
    let date = wp_date(first.date);
    out.push_str("\t<item>\n");
    field(out, "\t\t", "title", &title);
    field(out, "\t\t", "link", &link);
    let _ = write!(out, "\t\t<guid isPermaLink=\"false\">");
    cdata(
        out,
        if link.is_empty() {
            &first.url_id
        } else {
            &link
        },
    );
    out.push_str("</guid>\n");
    field(out, "\t\t", "description", "");
    field(out, "\t\t", "dc:creator", "");
    field(out, "\t\t", "content:encoded", "");
    field(out, "\t\t", "excerpt:encoded", "");
    plain(out, "\t\t", "wp:post_id", post_id);
    plain(out, "\t\t", "wp:post_date", &date);
    plain(out, "\t\t", "wp:post_date_gmt", &date);
    plain(out, "\t\t", "wp:comment_status", "open");
    plain(out, "\t\t", "wp:ping_status", "closed");
    field(
        out,
        "\t\t",
        "wp:post_name",
        &slug(&link, &first.url_id, post_id),
    );
    plain(out, "\t\t", "wp:status", "publish");
    plain(out, "\t\t", "wp:post_parent", 0);
    plain(out, "\t\t", "wp:menu_order", 0);
    plain(out, "\t\t", "wp:post_type", "post");
    field(out, "\t\t", "wp:post_password", "");
    plain(out, "\t\t", "wp:is_sticky", 0);
    // JSON text: WordPress' importer unserializes meta values that look like PHP's
    // serialization; a JSON string never does, whatever the urlId holds.
    meta(
        out,
        "\t\t",
        "wp:postmeta",
        URL_ID_KEY,
        &json_text(&Value::String(first.url_id.clone())),
    );
    if given.is_none() {
        meta(out, "\t\t", "wp:postmeta", UNTITLED_KEY, "true");
    }
}

fn json_text(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".to_owned())
}

fn meta(out: &mut String, indent: &str, tag: &str, key: &str, value: &str) {
    let _ = writeln!(out, "{indent}<{tag}>");
    field(out, &format!("{indent}\t"), "wp:meta_key", key);
    field(out, &format!("{indent}\t"), "wp:meta_value", value);
    let _ = writeln!(out, "{indent}</{tag}>");
}

/// A post's slug: the link's last path segment, else the urlId, in WordPress' slug letters.
fn slug(link: &str, url_id: &str, post_id: u64) -> String {
    let path = link.split(['?', '#']).next().unwrap_or("");
    let last = path.trim_end_matches('/').rsplit('/').next().unwrap_or("");
    let from = if last.is_empty() || link.is_empty() {
        url_id
    } else {
        last
    };
    let mut s = String::new();
    for c in from.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            s.push(c);
        } else if !s.ends_with('-') && !s.is_empty() {
            s.push('-');
        }
    }
    let s = s
        .trim_end_matches('-')
        .chars()
        .take(190)
        .collect::<String>();
    if s.is_empty() {
        format!("thread-{post_id}")
    } else {
        s
    }
}

/// What WXR has no field for, as the `fastcomments` comment meta.
fn hub_meta(c: &Comment, parent_source: Option<&str>) -> String {
    let mut o = Map::new();
    o.insert("id".into(), Value::String(c.id.clone()));
    o.insert("externalId".into(), Value::String(source_id(c)));
    o.insert(
        "parentExternalId".into(),
        parent_source.map_or(Value::Null, |p| Value::String(p.to_owned())),
    );
    o.insert("date".into(), Value::String(c.date.to_iso()));
    o.insert("approved".into(), Value::Bool(c.approved));
    o.insert("isSpam".into(), Value::Bool(c.is_spam));
    if let Some(u) = &c.user_id {
        o.insert("userId".into(), Value::String(u.clone()));
    }
    for (k, v) in [
        ("votes", c.votes),
        ("votesUp", c.votes_up),
        ("votesDown", c.votes_down),
    ] {
        if v != 0 {
            o.insert(k.into(), Value::from(v));
        }
    }
    if let Some(m) = &c.meta {
        o.insert("meta".into(), Value::Object(m.clone()));
    }
    json_text(&Value::Object(o))
}

/// One `<wp:comment>`: `number` and `parent` as chosen by [`Numbers`], `parent_source` the
/// parent's source id when it has one.
pub fn comment(
    out: &mut String,
    c: &Comment,
    number: u64,
    parent: u64,
    parent_source: Option<&str>,
) {
    let t = "\t\t\t";
    let date = wp_date(c.date);
    let content = if c.comment_html.trim().is_empty() {
        html_of_text(&c.comment)
    } else {
        c.comment_html.clone()
    };
    let wp_user = meta_number(c, "wpUserId").unwrap_or(0);
    out.push_str("\t\t<wp:comment>\n");
    plain(out, t, "wp:comment_id", number);
    field(out, t, "wp:comment_author", &c.commenter_name);
    field(
        out,
        t,
        "wp:comment_author_email",
        c.commenter_email.as_deref().unwrap_or(""),
    );
    let link = c
        .extra
        .get("commenterLink")
        .and_then(Value::as_str)
        .unwrap_or("");
    field(out, t, "wp:comment_author_url", link);
    field(out, t, "wp:comment_author_IP", "");
    plain(out, t, "wp:comment_date", &date);
    plain(out, t, "wp:comment_date_gmt", &date);
    field(out, t, "wp:comment_content", &content);
    plain(out, t, "wp:comment_approved", status(c));
    plain(out, t, "wp:comment_type", "comment");
    plain(out, t, "wp:comment_parent", parent);
    plain(out, t, "wp:comment_user_id", wp_user);
    if is_deleted(c) {
        // What WordPress restores a comment to when it leaves the bin.
        meta(
            out,
            t,
            "wp:commentmeta",
            "_wp_trash_meta_status",
            live_status(c),
        );
    }
    meta(
        out,
        t,
        "wp:commentmeta",
        META_KEY,
        &hub_meta(c, parent_source),
    );
    out.push_str("\t\t</wp:comment>\n");
}

/// Starts writing `tenant`'s WXR export; it comes out of the answer as it is read. A store
/// failure midway ends the body with an error (a broken download, not a short one).
pub fn wxr(hub: Arc<Hub>, tenant: TenantId) -> Lines {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::spawn(async move {
        if let Err(e) = write_all(&hub, &tenant, &tx).await {
            tracing::warn!(error = %e, "a WXR export stopped: the store failed");
            let _ = tx
                .send(Err(std::io::Error::other("the store failed")))
                .await;
        }
    });
    Lines::new(rx)
}

type Sender = tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>;

/// Writes the file into `tx`; `Ok` also when the client went away.
async fn write_all(hub: &Hub, tenant: &TenantId, tx: &Sender) -> crate::store::StoreResult<()> {
    let mut numbers = Numbers::default();
    let mut out = String::from(HEAD);
    let mut after: Option<(String, Millis, String)> = None;
    let mut in_item = false;
    loop {
        let key = after.as_ref().map(|(u, d, i)| (u.as_str(), *d, i.as_str()));
        let page = hub
            .reads()
            .comments_by_thread_after(tenant, key, PAGE)
            .await?;
        for c in &page {
            if after.as_ref().is_none_or(|(u, _, _)| *u != c.url_id) {
                if in_item {
                    out.push_str("\t</item>\n");
                }
                let post = numbers.thread(c);
                item_head(&mut out, c, post);
                in_item = true;
            }
            let (parent, parent_source) = parent_of(hub, tenant, &mut numbers, c).await;
            let number = numbers.comment(c, parent);
            comment(&mut out, c, number, parent, parent_source.as_deref());
            after = Some((c.url_id.clone(), c.date, c.id.clone()));
        }
        let last = (page.len() as u64) < PAGE;
        if last {
            if in_item {
                out.push_str("\t</item>\n");
            }
            out.push_str(TAIL);
        }
        if tx
            .send(Ok(Bytes::from(std::mem::take(&mut out))))
            .await
            .is_err()
            || last
        {
            return Ok(());
        }
    }
}

/// `c`'s parent: its number in this item (0 when it is in none, or `c` has no parent) and
/// its source id. A parent not yet written is read: in this thread it gets its number now
/// (so it sorts before `c`), elsewhere (or gone) it is named in the meta only.
async fn parent_of(
    hub: &Hub,
    tenant: &TenantId,
    numbers: &mut Numbers,
    c: &Comment,
) -> (u64, Option<String>) {
    let Some(pid) = c.parent_id.as_deref() else {
        // A reply still waiting for its parent names it by the site's id.
        return (0, c.external_parent_id.clone());
    };
    if let Some((n, source)) = numbers.known(pid) {
        return (*n, Some(source.clone()));
    }
    match hub.reads().comment(tenant, pid).await {
        Ok(Some(p)) if p.url_id == c.url_id => (numbers.reserve(&p), Some(source_id(&p))),
        Ok(Some(p)) => (0, Some(source_id(&p))),
        // Gone or unreadable: its hub id still names it.
        _ => (0, Some(pid.to_owned())),
    }
}

#[cfg(test)]
mod tests;
