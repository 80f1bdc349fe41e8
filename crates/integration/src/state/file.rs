//! [`JsonFileStateStore`]: the record as a JSON file, replaced by write-temp + fsync + rename.

use super::{Durability, IntegrationState, StateStore};
use crate::error::HostError;
use async_trait::async_trait;
use std::path::{Path, PathBuf};

/// Keeps the state as pretty JSON in one file. A save writes a sibling temp file, syncs it to
/// disk (for [`Durability::Durable`] saves), and renames it over the old one: a crash at any
/// point leaves either the old or the new record, never a mix.
#[derive(Debug, Clone)]
pub struct JsonFileStateStore {
    path: PathBuf,
}

impl JsonFileStateStore {
    /// A store at `path` (created on the first save; its directory must exist).
    pub fn new(path: impl Into<PathBuf>) -> JsonFileStateStore {
        JsonFileStateStore { path: path.into() }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn save_blocking(path: &Path, bytes: &[u8], sync: bool) -> std::io::Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "state".into());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        if sync {
            f.sync_all()?;
        }
    }
    std::fs::rename(&tmp, path)?;
    if sync {
        // The rename itself must reach the disk too.
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

#[async_trait]
impl StateStore for JsonFileStateStore {
    async fn load(&self) -> Result<Option<IntegrationState>, HostError> {
        match tokio::fs::read(&self.path).await {
            Ok(bytes) => Ok(Some(serde_json::from_slice(&bytes).map_err(|e| {
                HostError::from(format!("{} is not a state file: {e}", self.path.display()))
            })?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn save(
        &self,
        state: &IntegrationState,
        durability: Durability,
    ) -> Result<(), HostError> {
        let bytes = serde_json::to_vec_pretty(state)?;
        let path = self.path.clone();
        let sync = durability == Durability::Durable;
        tokio::task::spawn_blocking(move || save_blocking(&path, &bytes, sync)).await??;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn round_trip_and_replace() {
        let dir = tempfile::tempdir().unwrap();
        let store = JsonFileStateStore::new(dir.path().join("state.json"));
        assert_eq!(store.load().await.unwrap(), None);
        let mut s = IntegrationState {
            token: Some("tok-123456".into()),
            cursor: 42,
            ..Default::default()
        };
        s.seen.insert("e1", 5);
        store.save(&s, Durability::Durable).await.unwrap();
        s.cursor = 43;
        store.save(&s, Durability::Progress).await.unwrap();
        assert_eq!(store.load().await.unwrap(), Some(s));
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temp file stays behind");
    }

    #[tokio::test]
    async fn garbage_is_an_error_not_a_fresh_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(&path, b"{not json").unwrap();
        assert!(JsonFileStateStore::new(path).load().await.is_err());
    }
}
