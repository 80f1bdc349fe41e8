//! Realistic upload batches: what a WordPress-like plugin sends in step 3 — plugin ids, about a
//! thousand threads, names, e-mails, HTML bodies, zone-less dates, and replies to earlier
//! comments of the same thread. Deterministic (seeded) so runs compare.

use serde::Serialize;
use time::macros::format_description;
use time::OffsetDateTime;

/// SplitMix64: a small, fast, seedable generator (statistical quality is plenty for test data).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const FIRST: &[&str] = &[
    "Ada",
    "Grace",
    "Linus",
    "Margaret",
    "Ken",
    "Barbara",
    "Dennis",
    "Frances",
    "Alan",
    "Radia",
    "Edsger",
    "Hedy",
    "Niklaus",
    "Katherine",
    "Tim",
    "Sophie",
    "Guido",
    "Joan",
    "Bjarne",
    "Mary",
];
const LAST: &[&str] = &[
    "Lovelace",
    "Hopper",
    "Torvalds",
    "Hamilton",
    "Thompson",
    "Liskov",
    "Ritchie",
    "Allen",
    "Turing",
    "Perlman",
    "Dijkstra",
    "Lamarr",
    "Wirth",
    "Johnson",
    "Berners-Lee",
    "Wilson",
    "van Rossum",
    "Clarke",
    "Stroustrup",
    "Keller",
];
const WORDS: &[&str] = &[
    "the",
    "garden",
    "recipe",
    "really",
    "helpful",
    "thanks",
    "for",
    "sharing",
    "this",
    "I",
    "tried",
    "it",
    "yesterday",
    "and",
    "worked",
    "great",
    "although",
    "my",
    "oven",
    "runs",
    "hot",
    "so",
    "maybe",
    "lower",
    "temperature",
    "next",
    "time",
    "would",
    "you",
    "recommend",
    "another",
    "flour",
    "we",
    "loved",
    "photos",
    "travel",
    "post",
    "question",
    "about",
    "part",
    "three",
    "same",
    "problem",
    "here",
    "update",
    "fixed",
    "after",
    "reading",
    "comments",
    "below",
];
const TOPICS: &[&str] = &[
    "sourdough",
    "tomatoes",
    "rust-async",
    "lisbon-weekend",
    "home-office",
    "bike-repair",
    "sqlite-tips",
    "winter-soup",
    "balcony-herbs",
    "film-cameras",
];

/// One thread (page) of the site.
#[derive(Debug, Clone)]
struct Thread {
    url_id: String,
    url: String,
    title: String,
    /// Plugin ids of the thread's latest comments (replies pick their parent here).
    recent: Vec<u64>,
}

/// One comment as a plugin uploads it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UploadComment<'a> {
    external_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    external_parent_id: Option<String>,
    url_id: &'a str,
    url: &'a str,
    page_title: &'a str,
    commenter_name: String,
    commenter_email: String,
    comment: String,
    date: String,
    approved: bool,
    votes: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UploadBody<'a> {
    count_remaining: u64,
    comments: Vec<UploadComment<'a>>,
}

/// Makes the comments `1..=total` in order, a batch at a time.
#[derive(Debug)]
pub struct CommentGenerator {
    rng: Rng,
    threads: Vec<Thread>,
    made: u64,
    total: u64,
    /// Bytes of comment JSON made so far (without the batch envelope).
    pub comment_bytes: u64,
}

/// Seconds from 2015-01-01 to 2025-01-01: the dates spread over ten years in upload order.
const SPAN_SECS: i64 = 315_619_200;
const START_SECS: i64 = 1_420_070_400;

impl CommentGenerator {
    /// A generator of `total` comments over `threads` threads.
    pub fn new(total: u64, threads: usize, seed: u64) -> CommentGenerator {
        let mut rng = Rng::new(seed);
        let threads = (0..threads)
            .map(|t| {
                let topic = rng.pick(TOPICS);
                let year = 2015 + t % 10;
                let month = 1 + rng.below(12);
                let url_id = format!("/{year}/{month:02}/{topic}-part-{t}/");
                Thread {
                    url: format!("https://blog.example.com{url_id}"),
                    title: format!("{} — part {t}", topic.replace('-', " ")),
                    url_id,
                    recent: Vec::new(),
                }
            })
            .collect();
        CommentGenerator {
            rng,
            threads,
            made: 0,
            total,
            comment_bytes: 0,
        }
    }

    /// Comments not made yet.
    pub fn remaining(&self) -> u64 {
        self.total - self.made
    }

    /// The JSON body of the next batch of at most `size` comments, with `countRemaining` the
    /// number still to come after it (0 on the last batch), and how many comments it holds.
    pub fn next_batch(&mut self, size: u64) -> (Vec<u8>, u64) {
        let count = size.min(self.remaining());
        let mut picks = Vec::with_capacity(count as usize);
        for _ in 0..count {
            self.made += 1;
            let n = self.made;
            // Some threads are much busier than others, as on a real site.
            let t = if self.rng.chance(50) {
                self.rng.below(self.threads.len() / 10 + 1)
            } else {
                self.rng.below(self.threads.len())
            };
            let thread = &mut self.threads[t];
            let parent = if !thread.recent.is_empty() && self.rng.chance(35) {
                Some(thread.recent[self.rng.below(thread.recent.len())])
            } else {
                None
            };
            if thread.recent.len() == 8 {
                thread.recent.remove(0);
            }
            thread.recent.push(n);
            picks.push((n, t, parent));
        }
        let mut comments = Vec::with_capacity(picks.len());
        for (n, t, parent) in picks {
            let first = self.rng.pick(FIRST);
            let last = self.rng.pick(LAST);
            let secs = START_SECS + (SPAN_SECS as f64 * n as f64 / self.total as f64) as i64;
            let date = OffsetDateTime::from_unix_timestamp(secs)
                .ok()
                .and_then(|d| {
                    d.format(format_description!(
                        "[year]-[month]-[day] [hour]:[minute]:[second]"
                    ))
                    .ok()
                })
                .unwrap_or_else(|| "2020-01-01 00:00:00".into());
            let comment = html_text(&mut self.rng);
            let thread = &self.threads[t];
            comments.push(UploadComment {
                external_id: format!("wp-{n}"),
                external_parent_id: parent.map(|p| format!("wp-{p}")),
                url_id: &thread.url_id,
                url: &thread.url,
                page_title: &thread.title,
                commenter_name: format!("{first} {last}"),
                commenter_email: format!(
                    "{}.{}{}@example.org",
                    first.to_lowercase(),
                    last.to_lowercase().replace(' ', ""),
                    n % 97
                ),
                comment,
                date,
                approved: n % 50 != 0,
                votes: (n % 7) as i64 - 1,
            });
        }
        let count_remaining = self.remaining();
        let body = UploadBody {
            count_remaining,
            comments,
        };
        let json = serde_json::to_vec(&body).expect("plain structs serialise");
        // Compact JSON: the envelope, then the comments separated by commas.
        let envelope = format!("{{\"countRemaining\":{count_remaining},\"comments\":[]}}").len();
        self.comment_bytes += (json.len() - envelope) as u64 - count.saturating_sub(1);
        (json, count)
    }
}

/// One or two short paragraphs of HTML, sometimes with a link or emphasis.
fn html_text(rng: &mut Rng) -> String {
    let mut out = String::with_capacity(320);
    let paragraphs = if rng.chance(30) { 2 } else { 1 };
    for p in 0..paragraphs {
        out.push_str("<p>");
        let words = 6 + rng.below(17);
        for w in 0..words {
            if w > 0 {
                out.push(' ');
            }
            let word = rng.pick(WORDS);
            if w == 0 {
                let mut chars = word.chars();
                if let Some(c) = chars.next() {
                    out.extend(c.to_uppercase());
                    out.push_str(chars.as_str());
                }
            } else if rng.chance(3) {
                out.push_str("<strong>");
                out.push_str(word);
                out.push_str("</strong>");
            } else {
                out.push_str(word);
            }
        }
        if p == 0 && rng.chance(15) {
            out.push_str(
                " (see <a href=\"https://example.com/notes\" rel=\"nofollow\">my notes</a>)",
            );
        }
        out.push_str(".</p>");
    }
    out
}
