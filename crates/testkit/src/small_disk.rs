//! A small filesystem of its own that a test can fill and give space back to: a real full disk,
//! so the code under test sees `ENOSPC` from the kernel exactly where it would in production
//! (SQLite answers `SQLITE_FULL`, at a statement, a cache spill or a commit), not a simulated
//! error at a place the test chose.
//!
//! It is a `tmpfs` of a fixed size mounted on a fresh directory. Mounting needs root (CI and
//! these machines run as root) or a password-less `sudo`; otherwise [`SmallDisk::mount`] fails
//! and says so, it never skips. The filesystem is unmounted when the value is dropped.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Why the small disk could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SmallDiskError {
    /// The temporary directory or a file on the disk.
    #[error("small disk: {0}")]
    Io(#[from] std::io::Error),
    /// `mount` refused or is missing.
    #[error(
        "small disk: cannot mount a tmpfs on {0} ({1}); the full-disk tests need root or a \
         password-less sudo"
    )]
    Mount(String, String),
}

/// A mounted `tmpfs` of a fixed size, with a ballast file that fills it on demand.
#[derive(Debug)]
pub struct SmallDisk {
    /// Keeps the mount point's directory alive (removed after the unmount).
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
    ballast: PathBuf,
    sudo: bool,
}

impl SmallDisk {
    /// Mounts a `tmpfs` of `mib` MiB on a fresh directory under the system's temp dir.
    pub fn mount(mib: u64) -> Result<SmallDisk, SmallDiskError> {
        let dir = tempfile::Builder::new().prefix("small-disk-").tempdir()?;
        let path = dir.path().to_path_buf();
        // SAFETY: geteuid has no preconditions and cannot fail.
        #[allow(unsafe_code)]
        let root = unsafe { libc::geteuid() } == 0;
        let size = format!("size={mib}m,mode=0777");
        let target = path.to_string_lossy().into_owned();
        let args = ["-t", "tmpfs", "-o", size.as_str(), "tmpfs", target.as_str()];
        let output = if root {
            Command::new("mount").args(args).output()
        } else {
            Command::new("sudo")
                .arg("-n")
                .arg("mount")
                .args(args)
                .output()
        }
        .map_err(|e| SmallDiskError::Mount(target.clone(), e.to_string()))?;
        if !output.status.success() {
            let why = String::from_utf8_lossy(&output.stderr).trim().to_owned();
            return Err(SmallDiskError::Mount(target, why));
        }
        let ballast = path.join("ballast");
        Ok(SmallDisk {
            dir: Some(dir),
            path,
            ballast,
            sudo: !root,
        })
    }

    /// The mount point: put the files under test here.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Fills the disk: the ballast file grows until the kernel says there is no space left.
    /// Returns the ballast's size in bytes.
    pub fn fill(&self) -> Result<u64, SmallDiskError> {
        let mut file = File::options()
            .create(true)
            .append(true)
            .open(&self.ballast)?;
        let chunk = vec![0x5a_u8; 64 * 1024];
        let mut small = [0x5a_u8; 512];
        loop {
            match file.write(&chunk) {
                Ok(0) => break,
                Ok(_) => continue,
                Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
                Err(e) => return Err(e.into()),
            }
        }
        // The last partial pages: what 64 KiB did not fit may still take a few small writes.
        loop {
            match file.write(&small[..]) {
                Ok(0) => break,
                Ok(_) => small[0] = small[0].wrapping_add(1),
                Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
                Err(e) => return Err(e.into()),
            }
        }
        let _ = file.sync_all();
        Ok(file.metadata()?.len())
    }

    /// Fills the disk, then gives back `bytes` of it (rounded to whole pages by the kernel):
    /// room for a few writes and no more, so a run of writes meets a full disk part way.
    pub fn fill_leaving(&self, bytes: u64) -> Result<u64, SmallDiskError> {
        let full = self.fill()?;
        let left = full.saturating_sub(bytes);
        File::options()
            .write(true)
            .open(&self.ballast)?
            .set_len(left)?;
        Ok(left)
    }

    /// Gives the space back: the ballast file is removed.
    pub fn free(&self) -> Result<(), SmallDiskError> {
        match std::fs::remove_file(&self.ballast) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let target = self.path.to_string_lossy().into_owned();
        let status = if self.sudo {
            Command::new("sudo")
                .args(["-n", "umount", "-l", target.as_str()])
                .status()
        } else {
            Command::new("umount")
                .args(["-l", target.as_str()])
                .status()
        };
        if !matches!(status, Ok(s) if s.success()) {
            eprintln!("small disk: could not unmount {target}");
        }
        if let Some(dir) = self.dir.take() {
            let _ = dir.close();
        }
    }
}
