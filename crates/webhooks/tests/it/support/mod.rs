//! Fixtures shared by the integration tests.

#![allow(dead_code)]

use fastcomments_protocol::{Extra, Mention, MentionKind, Millis, WebhookComment};
use fastcomments_webhooks::{Verified, VerifyError};

/// The secret of every vector.
pub const SECRET: &[u8] = b"secret";
/// The timestamp of every vector (2025-11-23T06:40:00Z).
pub const TS: i64 = 1_763_880_000;

/// `at(now)` verifies a request signed at [`TS`] as of `now`: accepted 300 seconds away
/// either way, refused as stale or as from the future one second beyond.
pub fn assert_tolerance_is_300_seconds(at: impl Fn(i64) -> Result<Verified, VerifyError>) {
    assert!(at(TS + 300).is_ok());
    assert!(at(TS - 300).is_ok());
    assert_eq!(
        at(TS + 301),
        Err(VerifyError::StaleTimestamp {
            age_secs: 301,
            tolerance_secs: 300
        })
    );
    assert_eq!(
        at(TS - 301),
        Err(VerifyError::FutureTimestamp {
            ahead_secs: 301,
            tolerance_secs: 300
        })
    );
}

/// A comment in Bulgarian with emoji, quotes, a newline and URLs full of `/`.
pub fn bulgarian_comment() -> WebhookComment {
    WebhookComment {
        id: "6741a2b3c4d5e6f708192a3b".into(),
        url_id: "https://example.bg/blog/2025/11/първи-пост".into(),
        url: Some("https://example.bg/blog/2025/11/първи-пост?ref=a/b".into()),
        user_id: Some("user-42".into()),
        commenter_email: Some("ivan@example.bg".into()),
        commenter_name: "Иван Петров".into(),
        comment: "Здравей, свят! 🇧🇬👍 Това е \"тест\" с наклонени черти: a/b/c\nвтори ред".into(),
        comment_html: "<p>Здравей, свят! 🇧🇬👍 Това е &quot;тест&quot; с наклонени черти: a/b/c<br/>втори ред</p>".into(),
        external_id: None,
        parent_id: None,
        date: Millis(1_763_880_000_123),
        votes: 2,
        votes_up: 3,
        votes_down: 1,
        verified: true,
        verified_date: None,
        reviewed: false,
        avatar_src: Some("https://cdn.example.bg/avatars/ivan.png".into()),
        is_spam: false,
        ai_determined_spam: false,
        has_images: false,
        page_number: 0,
        page_number_of: 0,
        page_number_nf: 0,
        approved: true,
        locale: Some("bg_bg".into()),
        mentions: Some(vec![Mention {
            id: "user-7".into(),
            tag: "@Мария".into(),
            raw_tag: "@Мария".into(),
            kind: MentionKind::User,
            sent: true,
        }]),
        domain: Some("example.bg".into()),
        moderation_group_ids: None,
        extra: Extra::new(),
    }
}
