//! Properties of the keyset upload against a fake hub that splits, fails and checks.

use super::*;
use crate::sink::MemorySink;
use crate::source::MemorySource;
use crate::state::MemoryStateStore;
use fastcomments_protocol::{Status, UploadComment};
use proptest::prelude::*;
use std::collections::{BTreeSet, VecDeque};
use std::sync::Mutex;

struct FakeHub {
    ids: Vec<String>,
    max_comments: usize,
    failures: Mutex<VecDeque<bool>>,
    received: Mutex<BTreeSet<String>>,
    finished: Mutex<bool>,
}

#[async_trait]
impl BatchSender for FakeHub {
    async fn send(&self, r: &UploadRequest) -> Result<UploadResponse> {
        if self.failures.lock().unwrap().pop_front().unwrap_or(false) {
            return Err(Error::Unavailable {
                attempts: 1,
                last: "injected".into(),
            });
        }
        if r.comments.len() > self.max_comments {
            return Err(Error::Hub {
                status: 413,
                code: "payload-too-large".into(),
                reason: String::new(),
            });
        }
        let batch: Vec<String> = r
            .comments
            .iter()
            .map(|c| c.external_id.clone().unwrap())
            .collect();
        // countRemaining is exactly what comes after the batch in keyset order.
        if let Some(last) = batch.last() {
            let after = self.ids.iter().filter(|i| *i > last).count() as i64;
            assert_eq!(r.count_remaining, Some(after), "batch {batch:?}");
        }
        let mut rec = self.received.lock().unwrap();
        rec.extend(batch.iter().cloned());
        if r.is_last() {
            assert_eq!(rec.len(), self.ids.len(), "finished with holes");
            *self.finished.lock().unwrap() = true;
        }
        Ok(UploadResponse {
            status: Status::Success,
            comment_ids: batch
                .iter()
                .map(|e| (e.clone(), format!("h-{e}")))
                .collect(),
            received: batch.len() as u64,
        })
    }
}

fn local(i: usize) -> LocalComment {
    LocalComment {
        id: LocalId(format!("{i:05}")),
        comment: UploadComment {
            comment: format!("comment {i} ü"),
            ..Default::default()
        },
    }
}

async fn run_case(n: usize, max_batch: usize, hub_max: usize, conc: usize, fails: Vec<bool>) {
    let comments: Vec<LocalComment> = (0..n).map(local).collect();
    let ids: Vec<String> = comments.iter().map(|c| c.id.0.clone()).collect();
    let source = MemorySource::new(comments);
    let sink = MemorySink::new();
    let store = MemoryStateStore::new();
    let hub = FakeHub {
        ids: ids.clone(),
        max_comments: hub_max,
        failures: Mutex::new(fails.into()),
        received: Mutex::new(BTreeSet::new()),
        finished: Mutex::new(false),
    };
    let noop = |_: &Progress| {};
    let ctx = UploadCtx {
        sender: &hub,
        source: &source,
        sink: &sink,
        store: &store,
        progress: &noop,
        concurrency: conc,
    };
    let mut done = false;
    for _ in 0..10_000 {
        // Each attempt starts from what was saved, as after a crash.
        let mut state = store.snapshot().unwrap_or_default();
        let result = ctx.upload_all(&mut state, max_batch).await;
        let saved = store.snapshot().unwrap_or_default();
        let received = hub.received.lock().unwrap().clone();
        let prefix: Vec<&String> = ids
            .iter()
            .filter(|i| saved.upload.after.as_ref().is_some_and(|a| *i <= &a.0))
            .collect();
        assert!(
            prefix.iter().all(|i| received.contains(*i)),
            "cursor past a hole"
        );
        assert_eq!(saved.upload.sent, prefix.len() as u64);
        if result.is_ok() {
            done = true;
            break;
        }
    }
    assert!(done);
    let saved = store.snapshot().unwrap();
    assert!(saved.upload.finished);
    assert_eq!(saved.upload.sent, n as u64);
    assert!(*hub.finished.lock().unwrap());
    assert_eq!(hub.received.lock().unwrap().len(), n);
    let map = sink.id_map();
    for id in &ids {
        assert_eq!(map.get(&LocalId(id.clone())), Some(&format!("h-{id}")));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    #[test]
    fn keyset_upload_converges_without_holes(
        n in 0usize..150,
        max_batch in 1usize..40,
        hub_max in 1usize..50,
        conc in 1usize..5,
        fails in proptest::collection::vec(proptest::bool::weighted(0.15), 0..200),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(run_case(n, max_batch, hub_max, conc, fails));
    }
}

#[tokio::test]
async fn empty_source_sends_one_finishing_batch() {
    run_case(0, 10, 10, 2, vec![true, false]).await;
}

#[test]
fn requests_default_the_external_id_but_not_over_a_hub_id() {
    let mut with_hub = local(2);
    with_hub.comment.id = Some("hub-2".into());
    let r = request_for(&[local(1), with_hub], 5, 0);
    assert_eq!(r.comments[0].external_id.as_deref(), Some("00001"));
    assert_eq!(r.comments[1].external_id, None);
    assert_eq!(
        (r.start, r.has_more, r.count_remaining),
        (Some(5), Some(false), Some(0))
    );
}
