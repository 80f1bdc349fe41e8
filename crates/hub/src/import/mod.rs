//! Imports (issue 24): a site's comments from a Disqus export, a WordPress export (WXR) or a
//! JSON-lines file, read as a stream and stored through the upload path, so an imported
//! comment is what a plugin's upload of it would be: upserted on its source id (importing again
//! changes nothing), a reply before its parent linked when the parent arrives (in this file or
//! a later one), each batch one transaction, a timeline event for every change, webhooks only
//! where the tenant fires them for uploads.
//!
//! - `position`: line and column of what a parser reads;
//! - `jsonl`, `disqus`, `wxr`: one parser per format, each turning a file into [`Item`]s;
//! - `html`: the text of a comment's HTML;
//! - `export`, `export_wxr`: the tenant as JSON lines, or as a WordPress export;
//! - `spool`: the file between an upload and its import, read as it is written;
//! - `start`: what the API and the admin pages share to start one (the one-at-a-time check,
//!   the format from the file's first bytes, the record, the rest of the upload spooled while
//!   the import reads it);
//! - `runner`: an import's life (the spool parsed on a blocking thread as it grows, stored in
//!   batches, its record kept current).

pub mod disqus;
pub mod export;
pub mod export_wxr;
mod html;
pub mod jsonl;
pub mod position;
pub mod runner;
pub mod spool;
pub mod start;
pub mod wxr;
mod xml;

use fastcomments_protocol::UploadComment;
use serde::Serialize;

/// A file format an import reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Disqus' XML export.
    Disqus,
    /// WordPress' export (WXR, RSS with `wp:` elements).
    Wxr,
    /// One comment a line, in the upload shape of docs/protocol.md (what export writes).
    Jsonl,
}

impl Format {
    /// `disqus`, `wxr` or `jsonl`.
    pub fn parse(s: &str) -> Option<Format> {
        match s.trim().to_ascii_lowercase().as_str() {
            "disqus" => Some(Format::Disqus),
            "wxr" | "wordpress" => Some(Format::Wxr),
            "jsonl" | "ndjson" => Some(Format::Jsonl),
            _ => None,
        }
    }

    /// The name `parse` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Disqus => "disqus",
            Format::Wxr => "wxr",
            Format::Jsonl => "jsonl",
        }
    }

    /// The format of a file that starts with `head`, when it says: JSON lines open with `{`,
    /// a Disqus export has a `<disqus` root, a WXR an RSS one with WordPress' namespace.
    pub fn guess(head: &[u8]) -> Option<Format> {
        let text = String::from_utf8_lossy(head);
        let text = text.trim_start_matches('\u{feff}').trim_start();
        if text.starts_with('{') {
            Some(Format::Jsonl)
        } else if text.contains("<disqus") {
            Some(Format::Disqus)
        } else if text.contains("<rss") && text.contains("wordpress.org/export") {
            Some(Format::Wxr)
        } else {
            None
        }
    }

    /// Reads a file of this format, handing each record to `emit` until it answers `false`.
    /// `Err`: the file cannot be read on (broken XML), where.
    pub fn read(
        self,
        r: impl std::io::BufRead,
        emit: &mut dyn FnMut(Item) -> bool,
    ) -> Result<(), Problem> {
        match self {
            Format::Disqus => disqus::read(r, emit),
            Format::Wxr => wxr::read(r, emit),
            Format::Jsonl => jsonl::read(r, emit),
        }
    }
}

/// What was wrong, and where in the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// From 1.
    pub line: u64,
    /// From 1, in bytes.
    pub column: u64,
    /// What was wrong (or, for a record left out on purpose, why).
    pub message: String,
}

impl Problem {
    /// `message` at `(line, column)`.
    pub fn at((line, column): (u64, u64), message: impl Into<String>) -> Problem {
        Problem {
            line,
            column,
            message: message.into(),
        }
    }
}

/// One record of a file.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// A comment to store.
    Comment(Box<UploadComment>),
    /// A record left out on purpose (a pingback or trackback).
    Skipped(Problem),
    /// A record that cannot be stored; the import goes on past it.
    Problem(Problem),
}

impl Item {
    /// `comment` when an upload may store it, else the reason as a problem at `at`.
    pub fn checked(comment: UploadComment, at: (u64, u64)) -> Item {
        match crate::rules::validate_upload(&comment) {
            Ok(()) => Item::Comment(Box::new(comment)),
            Err(why) => Item::Problem(Problem::at(at, why)),
        }
    }
}
