//! Where PostgreSQL's server programs are installed.

use super::PgError;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The programs a cluster needs; they must sit in one directory (`pg_ctl` finds `postgres`
/// next to itself).
const PROGRAMS: [&str; 3] = ["initdb", "pg_ctl", "postgres"];

/// Where Debian installs each major version's server programs (`<root>/<version>/bin`); they
/// are not on `PATH` there.
const DEBIAN_ROOT: &str = "/usr/lib/postgresql";

/// What to tell someone whose machine lacks PostgreSQL.
pub(super) const MISSING: &str = "PostgreSQL is not installed: no directory on PATH or under \
/usr/lib/postgresql/*/bin holds initdb, pg_ctl and postgres. The PostgreSQL tests need a real \
server: install it with `apt-get install -y postgresql` (Debian/Ubuntu; other systems: the \
distribution's PostgreSQL server package) and run them again.";

/// The directory holding `initdb`, `pg_ctl` and `postgres`.
#[derive(Debug, Clone)]
pub(super) struct Binaries {
    dir: PathBuf,
}

impl Binaries {
    /// The first directory on `PATH` holding all three programs, else Debian's newest version.
    pub fn find() -> Result<Binaries, PgError> {
        let path = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect())
            .unwrap_or_default();
        Self::find_in(path, Path::new(DEBIAN_ROOT))
    }

    fn find_in(path: Vec<PathBuf>, debian_root: &Path) -> Result<Binaries, PgError> {
        path.into_iter()
            .chain(versioned_dirs(debian_root))
            .find(|dir| PROGRAMS.iter().all(|p| is_executable(&dir.join(p))))
            .map(|dir| Binaries { dir })
            .ok_or_else(|| PgError::new(MISSING))
    }

    /// The path of one of the programs.
    pub fn program(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `<root>/<version>/bin` for every numeric version (`15`, `9.6`), newest first.
fn versioned_dirs(root: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut found: Vec<(Vec<u32>, PathBuf)> = entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let version = name
                .split('.')
                .map(|part| part.parse().ok())
                .collect::<Option<Vec<u32>>>()?;
            Some((version, entry.path().join("bin")))
        })
        .collect();
    found.sort_by(|a, b| b.0.cmp(&a.0));
    found.into_iter().map(|(_, dir)| dir).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_install(dir: &Path) {
        std::fs::create_dir_all(dir).unwrap();
        for p in PROGRAMS {
            let file = dir.join(p);
            std::fs::write(&file, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }

    #[test]
    fn newest_debian_version_wins_and_path_comes_first() {
        let root = tempfile::tempdir().unwrap();
        for v in ["9.6", "15", "10"] {
            fake_install(&root.path().join(v).join("bin"));
        }
        std::fs::create_dir_all(root.path().join("not-a-version/bin")).unwrap();
        let found = Binaries::find_in(Vec::new(), root.path()).unwrap();
        assert_eq!(found.program("pg_ctl"), root.path().join("15/bin/pg_ctl"));

        let on_path = root.path().join("on-path");
        fake_install(&on_path);
        let found = Binaries::find_in(vec![on_path.clone()], root.path()).unwrap();
        assert_eq!(found.program("initdb"), on_path.join("initdb"));
    }

    #[test]
    fn a_directory_missing_one_program_is_passed_over() {
        let root = tempfile::tempdir().unwrap();
        let partial = root.path().join("partial");
        fake_install(&partial);
        std::fs::remove_file(partial.join("postgres")).unwrap();
        let err = Binaries::find_in(vec![partial], &root.path().join("none")).unwrap_err();
        assert!(
            err.to_string().contains("apt-get install -y postgresql"),
            "{err}"
        );
    }
}
