//! A throwaway PostgreSQL cluster: `initdb` into a temporary directory, `pg_ctl start` on a
//! free loopback port, databases on demand, stopped and removed on drop or when the process
//! ends (see [`watchdog`]).

mod account;
mod install;
mod watchdog;

use account::Account;
use install::Binaries;
use sqlx::Connection;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};
use watchdog::Watchdog;

/// The bootstrap superuser every URL connects as (trust authentication, loopback only).
const SUPERUSER: &str = "postgres";
/// The database [`PgCluster::url`] names, created at start.
const DEFAULT_DATABASE: &str = "test";
/// How long `pg_ctl` may wait for the server to start or stop.
const PG_CTL_TIMEOUT_S: &str = "60";
/// Free ports tried before giving up when others keep taking them first.
const PORT_ATTEMPTS: usize = 10;
/// How long a restart after a kill waits for the old server's processes to let go.
const RESTART_PATIENCE: Duration = Duration::from_secs(20);

/// Why a cluster could not be started or used; the message says what to do.
pub struct PgError(String);

impl PgError {
    fn new(message: impl Into<String>) -> PgError {
        PgError(message.into())
    }
}

impl PgError {
    /// Whether it says PostgreSQL is not installed (the one a script may answer by installing
    /// it).
    pub fn is_missing_postgres(&self) -> bool {
        self.0 == install::MISSING
    }
}

impl fmt::Display for PgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

// Tests `unwrap()` these: print the message as written, not as an escaped string.
impl fmt::Debug for PgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PgError {}

/// How to run a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgOptions {
    /// Keep PostgreSQL's durable defaults (`fsync`, `full_page_writes`). Off (the test
    /// default), a killed server still loses no committed transaction (every commit reaches
    /// the OS), but a crash of the machine could corrupt the cluster: tests only. Benchmarks
    /// turn it on.
    pub durable: bool,
    /// `max_connections`: test binaries run many tests at once, each with its own pool.
    pub max_connections: u32,
    /// Further `postgresql.conf` settings, `(name, value)`, written as given.
    pub settings: Vec<(String, String)>,
    /// Where the data directory (tables and WAL) goes: a path that does not exist yet, in a
    /// directory that does, such as a [`crate::SmallDisk`] to run the server out of disk.
    /// It is created for the server's account and removed with the cluster. `None` (the
    /// default): inside the cluster's temporary directory.
    pub data_dir: Option<PathBuf>,
}

impl PgOptions {
    /// Fast settings for tests (no `fsync`).
    pub fn for_tests() -> PgOptions {
        PgOptions {
            durable: false,
            max_connections: 300,
            settings: Vec::new(),
            data_dir: None,
        }
    }

    /// PostgreSQL's durable defaults, for benchmarks.
    pub fn durable() -> PgOptions {
        PgOptions {
            durable: true,
            ..PgOptions::for_tests()
        }
    }
}

impl Default for PgOptions {
    fn default() -> PgOptions {
        PgOptions::for_tests()
    }
}

/// A running PostgreSQL cluster in a temporary directory, listening on 127.0.0.1 only.
///
/// Dropping it stops the server and removes the directory (blocking, a fraction of a second);
/// so does the end of the process that started it, however it ends.
#[derive(Debug)]
pub struct PgCluster {
    bin: Binaries,
    account: Account,
    root: PathBuf,
    data: PathBuf,
    options: PgOptions,
    port: u16,
    watchdog: Option<Watchdog>,
    /// A cluster that outlives this process ([`PgCluster::keep_in`]): dropping it stops and
    /// removes nothing.
    kept: bool,
}

impl PgCluster {
    /// Starts a cluster with [`PgOptions::for_tests`].
    pub async fn start() -> Result<PgCluster, PgError> {
        PgCluster::start_with(PgOptions::for_tests()).await
    }

    /// Starts a cluster: `initdb`, `pg_ctl start` on a free port, and the database that
    /// [`PgCluster::url`] names. Fails, saying how to install it, where PostgreSQL is missing.
    pub async fn start_with(options: PgOptions) -> Result<PgCluster, PgError> {
        let bin = Binaries::find()?;
        let account = Account::for_server()?;
        let root = tempfile::Builder::new()
            .prefix("testkit-pg-")
            .tempdir()
            .map_err(|e| PgError::new(format!("creating the cluster's directory: {e}")))?
            .keep();
        let data = match &options.data_dir {
            // Made here, before the cluster owns it: a path that existed is never removed.
            Some(dir) => match std::fs::create_dir(dir) {
                Ok(()) => dir.clone(),
                Err(e) => {
                    let _ = std::fs::remove_dir_all(&root);
                    return Err(PgError::new(format!(
                        "creating the data directory {}: {e}",
                        dir.display()
                    )));
                }
            },
            None => root.join("data"),
        };
        let mut cluster = PgCluster {
            bin,
            account,
            root,
            data,
            options,
            port: 0,
            watchdog: None,
            kept: false,
        };
        // From here a failure drops `cluster`, which removes the directory.
        cluster.account.give(&cluster.root).map_err(|e| {
            PgError::new(format!(
                "handing {} to the server's account: {e}",
                cluster.root.display()
            ))
        })?;
        if cluster.options.data_dir.is_some() {
            cluster.account.give(&cluster.data).map_err(|e| {
                PgError::new(format!(
                    "handing {} to the server's account: {e}",
                    cluster.data.display()
                ))
            })?;
        }
        // The watchdog before the server: however this process ends from here on, the
        // directory and any server started in it go away.
        let watchdog = Watchdog::spawn(
            &cluster.account,
            &cluster.bin.program("pg_ctl"),
            &cluster.data,
            &cluster.root,
        )
        .map_err(|e| PgError::new(format!("starting the cluster's watchdog (/bin/sh): {e}")))?;
        cluster.watchdog = Some(watchdog);
        cluster.initdb().await?;
        cluster.launch_on_a_free_port().await?;
        cluster.create_database(DEFAULT_DATABASE).await?;
        Ok(cluster)
    }

    /// A cluster in `dir` that outlives this process, for a developer's hub
    /// (`tools/serve-on-postgres`), never for tests: made on first use (`initdb`, PostgreSQL's
    /// durable settings), started on `127.0.0.1:port` when it is not running, with database
    /// `database` created when missing. Returns that database's URL. Its data stays in `dir`;
    /// [`PgCluster::stop_kept`] stops it.
    pub async fn keep_in(dir: &Path, port: u16, database: &str) -> Result<String, PgError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| PgError::new(format!("creating {}: {e}", dir.display())))?;
        let root = std::fs::canonicalize(dir)
            .map_err(|e| PgError::new(format!("reading {}: {e}", dir.display())))?;
        let mut cluster = PgCluster::kept(root)?;
        cluster.account.give(&cluster.root).map_err(|e| {
            PgError::new(format!(
                "handing {} to the server's account: {e}",
                cluster.root.display()
            ))
        })?;
        cluster.port = port;
        if !cluster.data.join("PG_VERSION").exists() {
            cluster.initdb().await?;
        }
        if !cluster.is_running() {
            remove_stale_lock(&cluster.data.join("postmaster.pid"));
            cluster.write_settings(port)?;
            let (out, log) = cluster.pg_ctl_start().await?;
            check(&out, "pg_ctl start", &log)?;
        }
        if !cluster.has_database(database).await? {
            cluster.create_database(database).await?;
        }
        Ok(cluster.url_for(database))
    }

    /// Stops the cluster [`PgCluster::keep_in`] keeps in `dir` (its data stays).
    pub async fn stop_kept(dir: &Path) -> Result<(), PgError> {
        let root = std::fs::canonicalize(dir)
            .map_err(|e| PgError::new(format!("reading {}: {e}", dir.display())))?;
        let cluster = PgCluster::kept(root)?;
        if !cluster.is_running() {
            return Ok(());
        }
        let out = cluster.pg_ctl(&["stop", "-m", "fast"]).await?;
        check(&out, "pg_ctl stop", &cluster.log())
    }

    /// The handle of a kept cluster in `root` (nothing started or made).
    fn kept(root: PathBuf) -> Result<PgCluster, PgError> {
        Ok(PgCluster {
            bin: Binaries::find()?,
            account: Account::for_server()?,
            data: root.join("data"),
            root,
            options: PgOptions::durable(),
            port: 0,
            watchdog: None,
            kept: true,
        })
    }

    /// Whether database `name` exists.
    async fn has_database(&self, name: &str) -> Result<bool, PgError> {
        let url = self.url_for("postgres");
        let mut conn = sqlx::PgConnection::connect(&url)
            .await
            .map_err(|e| PgError::new(format!("connecting to {url}: {e}")))?;
        let found = sqlx::query("SELECT 1 FROM pg_database WHERE datname = $1")
            .bind(name)
            .fetch_optional(&mut conn)
            .await;
        let _ = conn.close().await;
        found
            .map(|row| row.is_some())
            .map_err(|e| PgError::new(format!("looking for database {name}: {e}")))
    }

    /// The cluster every test of this process shares, started by the first call. Tests take
    /// their own database with [`PgCluster::database`]. It is stopped when the process ends
    /// (by its watchdog: statics are never dropped). Do not stop or kill it: other tests use it.
    pub async fn shared() -> Result<&'static PgCluster, PgError> {
        static SHARED: tokio::sync::OnceCell<PgCluster> = tokio::sync::OnceCell::const_new();
        SHARED.get_or_try_init(PgCluster::start).await
    }

    /// Creates database `name` (letters, digits and `_`, at most 63 bytes, unique in the
    /// cluster) and returns its URL.
    pub async fn database(&self, name: &str) -> Result<String, PgError> {
        self.create_database(name).await?;
        Ok(self.url_for(name))
    }

    /// The URL of the database created at start.
    pub fn url(&self) -> String {
        self.url_for(DEFAULT_DATABASE)
    }

    /// The URL of database `name` of this cluster.
    pub fn url_for(&self, name: &str) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{name}", self.port)
    }

    /// The loopback port the server listens on (the same across restarts).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The cluster's temporary directory (socket, server log, and the data directory unless
    /// [`PgOptions::data_dir`] put it elsewhere).
    pub fn dir(&self) -> &Path {
        &self.root
    }

    /// The running postmaster's pid, read from its lock file.
    pub fn postmaster_pid(&self) -> Option<u32> {
        lock_owner(&self.data.join("postmaster.pid"))
    }

    /// Whether the postmaster is running (it stops by itself when, say, it cannot recover
    /// from a crash because its disk is full).
    pub fn is_running(&self) -> bool {
        self.postmaster_pid().is_some_and(is_postgres)
    }

    /// The server log so far (for failing tests to show).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Stops the server cleanly (`pg_ctl stop -m fast`); [`PgCluster::start_again`] resumes.
    pub async fn stop(&self) -> Result<(), PgError> {
        let out = self.pg_ctl(&["stop", "-m", "fast"]).await?;
        check(&out, "pg_ctl stop", &self.log())
    }

    /// Kills the server as a crash would (SIGKILL to the postmaster; its backends follow it)
    /// and waits until the postmaster is gone. [`PgCluster::start_again`] recovers.
    pub async fn kill(&self) -> Result<(), PgError> {
        let pid = self
            .postmaster_pid()
            .ok_or_else(|| PgError::new("kill: the server is not running"))?;
        signal(pid, libc::SIGKILL)?;
        let deadline = Instant::now() + RESTART_PATIENCE;
        while is_postgres(pid) {
            if Instant::now() > deadline {
                return Err(PgError::new(format!("postmaster {pid} outlived SIGKILL")));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    /// Freezes the server as a hung machine or a network that drops packets would: SIGSTOP to
    /// the postmaster and every process it started, so connections stay open and nothing
    /// answers (new connections are accepted by the kernel and then left waiting). The server
    /// runs on when the returned [`Frozen`] is thawed or dropped.
    pub fn freeze(&self) -> Result<Frozen, PgError> {
        let pid = self
            .postmaster_pid()
            .ok_or_else(|| PgError::new("freeze: the server is not running"))?;
        let mut pids = vec![pid];
        pids.extend(children_of(pid));
        let frozen = Frozen { pids };
        for &p in &frozen.pids {
            signal(p, libc::SIGSTOP)?;
        }
        Ok(frozen)
    }

    /// Starts the server again after [`PgCluster::stop`] or [`PgCluster::kill`], on the same
    /// port and data, and waits until it accepts connections.
    pub async fn start_again(&self) -> Result<(), PgError> {
        // A killed postmaster whose parent never reaps it (some container inits) stays a
        // zombie, which `postgres` takes for a live owner of its lock files.
        let socket_lock = self.root.join(format!(".s.PGSQL.{}.lock", self.port));
        for lock in [self.data.join("postmaster.pid"), socket_lock] {
            remove_stale_lock(&lock);
        }
        let deadline = Instant::now() + RESTART_PATIENCE;
        loop {
            let (out, log) = self.pg_ctl_start().await?;
            if out.status.success() {
                return Ok(());
            }
            // After a kill, the old backends may hold the shared memory a moment longer.
            if log.contains("pre-existing shared memory block") && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            return check(&out, "pg_ctl start", &log);
        }
    }

    async fn initdb(&self) -> Result<(), PgError> {
        let mut command = self
            .account
            .command(&self.bin.program("initdb"), &self.root);
        command
            .arg("-D")
            .arg(&self.data)
            .args(["-U", SUPERUSER, "--auth=trust", "-E", "UTF8"])
            .args(["--no-locale", "--no-sync"]);
        let out = run(command).await?;
        check(&out, "initdb", "")?;
        // Our settings in a file of their own, rewritten when the port changes.
        let conf = self.data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf)
            .map_err(|e| PgError::new(format!("reading {}: {e}", conf.display())))?;
        text.push_str("\ninclude_if_exists = 'testkit.conf'\n");
        std::fs::write(&conf, text)
            .map_err(|e| PgError::new(format!("writing {}: {e}", conf.display())))
    }

    fn write_settings(&self, port: u16) -> Result<(), PgError> {
        let mut settings = vec![
            ("listen_addresses".to_owned(), "127.0.0.1".to_owned()),
            ("port".to_owned(), port.to_string()),
            (
                "unix_socket_directories".to_owned(),
                self.root.display().to_string(),
            ),
            (
                "max_connections".to_owned(),
                self.options.max_connections.to_string(),
            ),
        ];
        if !self.options.durable {
            for name in ["fsync", "full_page_writes"] {
                settings.push((name.to_owned(), "off".to_owned()));
            }
        }
        settings.extend(self.options.settings.iter().cloned());
        let text: String = settings
            .iter()
            .map(|(name, value)| format!("{name} = '{}'\n", value.replace('\'', "''")))
            .collect();
        let path = self.data.join("testkit.conf");
        std::fs::write(&path, text)
            .map_err(|e| PgError::new(format!("writing {}: {e}", path.display())))
    }

    /// Picks a free port (bind to 127.0.0.1:0, release), starts on it, and tries another when
    /// someone else took it in between.
    async fn launch_on_a_free_port(&mut self) -> Result<(), PgError> {
        let mut last = String::new();
        for _ in 0..PORT_ATTEMPTS {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map_err(|e| PgError::new(format!("finding a free port: {e}")))?
                .port();
            self.write_settings(port)?;
            let (out, log) = self.pg_ctl_start().await?;
            if out.status.success() {
                self.port = port;
                return Ok(());
            }
            if !log.contains("could not bind") && !log.contains("Address already in use") {
                return check(&out, "pg_ctl start", &log);
            }
            last = log;
        }
        Err(PgError::new(format!(
            "no free port after {PORT_ATTEMPTS} tries; last server log:\n{last}"
        )))
    }

    /// `pg_ctl start`, waiting until the server accepts connections; with what it logged.
    async fn pg_ctl_start(&self) -> Result<(Output, String), PgError> {
        let before = self.log().len();
        let log = self.log_path();
        let log = log.to_string_lossy();
        let out = self.pg_ctl(&["start", "-l", &log]).await?;
        let logged = self.log().get(before..).unwrap_or_default().to_owned();
        Ok((out, logged))
    }

    async fn pg_ctl(&self, args: &[&str]) -> Result<Output, PgError> {
        let mut command = self
            .account
            .command(&self.bin.program("pg_ctl"), &self.root);
        command
            .args(args)
            .arg("-D")
            .arg(&self.data)
            .args(["-w", "-t", PG_CTL_TIMEOUT_S, "-s"]);
        run(command).await
    }

    async fn create_database(&self, name: &str) -> Result<(), PgError> {
        let valid = !name.is_empty()
            && name.len() <= 63
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid {
            return Err(PgError::new(format!(
                "database name {name:?}: use letters, digits and _ (at most 63)"
            )));
        }
        let url = self.url_for("postgres");
        let mut conn = sqlx::PgConnection::connect(&url)
            .await
            .map_err(|e| PgError::new(format!("connecting to {url}: {e}")))?;
        // The name is checked above, so quoting it cannot break out.
        let created = sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut conn)
            .await;
        let _ = conn.close().await;
        created.map_err(|e| PgError::new(format!("creating database {name}: {e}")))?;
        Ok(())
    }

    fn log_path(&self) -> PathBuf {
        self.root.join("server.log")
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if self.kept {
            return;
        }
        if let Some(watchdog) = self.watchdog.take() {
            watchdog.finish();
        }
        // Should the watchdog have been killed, stop and remove here.
        if self.data.join("postmaster.pid").exists() {
            let mut command = self
                .account
                .command(&self.bin.program("pg_ctl"), &self.root);
            command
                .args(["stop", "-m", "immediate", "-D"])
                .arg(&self.data)
                .args(["-w", "-s"]);
            let _ = command.output();
        }
        let _ = std::fs::remove_dir_all(&self.data);
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Runs a command to completion without blocking the async runtime.
async fn run(command: Command) -> Result<Output, PgError> {
    let program = command.get_program().to_string_lossy().into_owned();
    tokio::process::Command::from(command)
        .output()
        .await
        .map_err(|e| PgError::new(format!("running {program}: {e}")))
}

fn check(out: &Output, what: &str, log: &str) -> Result<(), PgError> {
    if out.status.success() {
        return Ok(());
    }
    Err(PgError::new(format!(
        "{what} failed ({}):\n{}{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        log
    )))
}

/// The pid on the first line of a PostgreSQL lock file.
fn lock_owner(path: &Path) -> Option<u32> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().next()?.trim().parse().ok()
}

/// Removes a PostgreSQL lock file (its first line: the owner's pid) whose owner is dead.
fn remove_stale_lock(path: &Path) {
    if lock_owner(path).is_some_and(|pid| !is_postgres(pid)) {
        let _ = std::fs::remove_file(path);
    }
}

/// Whether `pid` is a live (not zombie) `postgres` process.
fn is_postgres(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // "<pid> (<comm>) <state> …"; comm may hold spaces, so split at the last ')'.
    let Some((head, tail)) = stat.rsplit_once(')') else {
        return false;
    };
    let comm = head.split_once('(').map_or("", |(_, c)| c);
    let state = tail.trim_start().chars().next();
    comm.starts_with("postgres") && !matches!(state, Some('Z' | 'X'))
}

/// A server [`PgCluster::freeze`] stopped; it runs on when this is thawed or dropped (so a
/// failing test leaves no stopped server behind).
#[derive(Debug)]
pub struct Frozen {
    pids: Vec<u32>,
}

impl Frozen {
    /// Lets the server run on (as dropping it does).
    pub fn thaw(self) {}
}

impl Drop for Frozen {
    fn drop(&mut self) {
        for &p in &self.pids {
            let _ = signal(p, libc::SIGCONT);
        }
    }
}

/// Sends `sig` to `pid`.
fn signal(pid: u32, sig: libc::c_int) -> Result<(), PgError> {
    let pid_t =
        libc::pid_t::try_from(pid).map_err(|_| PgError::new(format!("pid {pid} out of range")))?;
    // SAFETY: kill has no memory-safety preconditions; the pid is one of the cluster's.
    if unsafe { libc::kill(pid_t, sig) } != 0 {
        let e = std::io::Error::last_os_error();
        return Err(PgError::new(format!("signal {sig} to {pid}: {e}")));
    }
    Ok(())
}

/// The processes whose parent is `pid` (the postmaster's backends and helpers), from /proc.
fn children_of(pid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/stat"))
                .ok()
                .and_then(|stat| {
                    // pid (comm) state ppid …: the name may hold spaces, so read after its ')'.
                    let rest = &stat[stat.rfind(')')? + 1..];
                    rest.split_whitespace().nth(1)?.parse::<u32>().ok()
                })
                == Some(pid)
        })
        .collect()
}
