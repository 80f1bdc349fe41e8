//! The file between an upload and its import. The body is written to a file of the system's
//! temporary folder as it arrives ([`SpoolWriter`]), and the import's parser reads that file
//! as it grows, on a thread of its own ([`SpoolReader`]): at the written end it waits until
//! more is written or the upload ends, whole or cut short. So parsing overlaps the upload,
//! memory holds neither the file nor a backlog of it (a parser slower than the connection
//! leaves the difference on disk, not in memory), and a cut-short upload reaches the parser
//! as a read error at the exact byte where it ended. The file is removed once both sides are
//! done with it, however each ends.

use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use tokio::io::AsyncWriteExt;

/// How an upload ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum End {
    /// Every byte of the file arrived.
    Whole,
    /// It stopped short: what the import reports (`the upload ended after N bytes: …`).
    Cut(String),
}

/// What the two sides share.
#[derive(Debug, Default)]
struct Progress {
    /// Bytes written and readable.
    written: u64,
    /// Set once, by the writer.
    end: Option<End>,
    /// The import stopped reading (its parser ended, or the import failed): the rest of the
    /// upload need not be written.
    abandoned: bool,
    /// The reader got to the end of a cut-short upload.
    cut_seen: bool,
}

/// The spool file's path and the progress the two sides share. Removing the file is left to
/// whichever side lets go of it last.
#[derive(Debug)]
struct Shared {
    path: PathBuf,
    progress: Mutex<Progress>,
    changed: Condvar,
}

impl Shared {
    fn progress(&self) -> MutexGuard<'_, Progress> {
        // Nothing panics while holding it; if something did, its numbers are still whole.
        self.progress.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn update(&self, change: impl FnOnce(&mut Progress)) {
        change(&mut self.progress());
        self.changed.notify_all();
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // One unlink; blocking, but short, and the only way every ending cleans up.
        if let Err(e) = std::fs::remove_file(&self.path) {
            tracing::warn!(error = %e, file = %self.path.display(), "an import's spooled file was left behind");
        }
    }
}

/// A new spool file, open for writing and for reading.
pub async fn create(id: &str) -> io::Result<(SpoolWriter, SpoolReader)> {
    let path = std::env::temp_dir().join(format!("fastcomments-import-{id}"));
    let file = tokio::fs::File::create(&path).await?;
    let shared = Arc::new(Shared {
        path: path.clone(),
        progress: Mutex::new(Progress::default()),
        changed: Condvar::new(),
    });
    // From here the file is removed when both sides are dropped (`Shared`'s drop).
    let writer = SpoolWriter {
        file,
        shared: shared.clone(),
        received: 0,
        ended: false,
    };
    let read = tokio::fs::File::open(&path).await?.into_std().await;
    Ok((
        writer,
        SpoolReader {
            file: read,
            shared,
            offset: 0,
        },
    ))
}

/// The upload's side: appends what arrives and says how the upload ended. Dropped before it
/// said so (its request's future dropped: the client went away), the upload is cut there.
#[derive(Debug)]
pub struct SpoolWriter {
    // Before `shared`: the file is closed before `Shared`'s drop may remove it.
    file: tokio::fs::File,
    shared: Arc<Shared>,
    received: u64,
    ended: bool,
}

impl SpoolWriter {
    /// Bytes received so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Appends `data` and hands it to the reader. When the import stopped reading, `data` is
    /// only counted.
    pub async fn append(&mut self, data: &[u8]) -> io::Result<()> {
        if self.shared.progress().abandoned {
            self.received += data.len() as u64;
            return Ok(());
        }
        self.file.write_all(data).await?;
        // Written through tokio's file the bytes may still be on their way to the file; the
        // reader is told of them once they are there.
        self.file.flush().await?;
        self.received += data.len() as u64;
        let written = self.received;
        self.shared.update(|p| p.written = written);
        Ok(())
    }

    /// Every byte arrived.
    pub fn finish(mut self) {
        if !self.ended {
            self.end(End::Whole);
        }
    }

    /// The upload stopped short, for the reason `why` (what follows "the upload ended after N
    /// bytes: "). Said once: what the writer is told after it is not heard.
    pub fn cut(&mut self, why: &str) {
        if self.ended {
            return;
        }
        let message = format!("the upload ended after {} bytes: {why}", self.received);
        self.end(End::Cut(message));
    }

    fn end(&mut self, end: End) {
        self.ended = true;
        self.shared.update(|p| p.end = Some(end));
    }
}

impl Drop for SpoolWriter {
    fn drop(&mut self) {
        if !self.ended {
            let message = format!(
                "the upload ended after {} bytes: the connection closed before the whole file \
                 arrived",
                self.received
            );
            self.end(End::Cut(message));
        }
    }
}

/// The import's side: the file as it grows, a blocking [`Read`] for the parser's thread. At
/// the written end a read waits for more; past the last byte of a whole upload it reads
/// nothing (the end of the file); at the end of a cut-short one it fails with the cut's
/// message.
#[derive(Debug)]
pub struct SpoolReader {
    // Before `shared`: the file is closed before `Shared`'s drop may remove it.
    file: std::fs::File,
    shared: Arc<Shared>,
    offset: u64,
}

impl SpoolReader {
    /// A handle to stop the reading and to learn, once the parser is done, whether it ended at
    /// a cut.
    pub fn watch(&self) -> SpoolWatch {
        SpoolWatch(self.shared.clone())
    }

    /// Bytes that may be read from `offset` on: `Some(n)`, `None` at the end of a whole file;
    /// waits until either can be said.
    fn readable(&self) -> io::Result<Option<u64>> {
        let mut p = self.shared.progress();
        loop {
            if p.abandoned {
                return Err(io::Error::other("the import stopped reading"));
            }
            if p.written > self.offset {
                return Ok(Some(p.written - self.offset));
            }
            match &p.end {
                Some(End::Whole) => return Ok(None),
                Some(End::Cut(message)) => {
                    let e = io::Error::new(io::ErrorKind::UnexpectedEof, message.clone());
                    p.cut_seen = true;
                    return Err(e);
                }
                None => {}
            }
            p = self
                .shared
                .changed
                .wait(p)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

impl Read for SpoolReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(readable) = self.readable()? else {
            return Ok(0);
        };
        // Never past what the writer said it wrote: a read of bytes on their way would be short.
        let want = buf
            .len()
            .min(usize::try_from(readable).unwrap_or(usize::MAX));
        let n = self.file.read(&mut buf[..want])?;
        if n == 0 && want > 0 {
            return Err(io::Error::other(
                "the spooled file is shorter than was written",
            ));
        }
        self.offset += n as u64;
        Ok(n)
    }
}

impl Drop for SpoolReader {
    fn drop(&mut self) {
        self.shared.update(|p| p.abandoned = true);
    }
}

/// The import's hold on its upload, beside the reader its parser owns.
#[derive(Debug)]
pub struct SpoolWatch(Arc<Shared>);

impl SpoolWatch {
    /// Stops the reading: a read waiting for more fails at once, and the upload's rest is no
    /// longer written.
    pub fn stop(&self) {
        self.0.update(|p| p.abandoned = true);
    }

    /// The cut's message when the reader got to the end of a cut-short upload.
    pub fn cut(&self) -> Option<String> {
        let p = self.0.progress();
        match (&p.end, p.cut_seen) {
            (Some(End::Cut(message)), true) => Some(message.clone()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read_all(reader: SpoolReader) -> io::Result<Vec<u8>> {
        tokio::task::spawn_blocking(move || {
            let mut reader = reader;
            let mut got = Vec::new();
            reader.read_to_end(&mut got).map(|_| got)
        })
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn the_reader_waits_for_what_arrives_and_ends_with_the_upload() {
        let (mut w, r) = create(&crate::ids::object_id()).await.unwrap();
        let path = w.shared.path.clone();
        let reading = tokio::spawn(read_all(r));
        w.append(b"hello ").await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!reading.is_finished(), "it waits at the written end");
        w.append(b"world").await.unwrap();
        w.finish();
        assert_eq!(reading.await.unwrap().unwrap(), b"hello world");
        assert!(!path.exists(), "removed once both sides let go");
    }

    #[tokio::test]
    async fn a_cut_upload_fails_the_read_at_its_last_byte() {
        let (mut w, r) = create(&crate::ids::object_id()).await.unwrap();
        let watch = r.watch();
        let reading = tokio::spawn(read_all(r));
        w.append(b"half a fi").await.unwrap();
        drop(w);
        let e = reading.await.unwrap().unwrap_err();
        assert!(
            e.to_string().starts_with("the upload ended after 9 bytes"),
            "{e}"
        );
        assert_eq!(watch.cut().as_deref(), Some(e.to_string().as_str()));
    }

    #[tokio::test]
    async fn a_stopped_import_is_sent_no_more() {
        let (mut w, r) = create(&crate::ids::object_id()).await.unwrap();
        r.watch().stop();
        drop(r);
        w.append(b"counted, not written").await.unwrap();
        assert_eq!(w.received(), 20);
        assert_eq!(w.shared.progress().written, 0);
    }
}
