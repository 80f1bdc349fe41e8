//! A real headless Chromium for browser tests: Debian's `chromium` under its `chromedriver`
//! (package `chromium-driver`), on a free loopback port, with a fresh profile directory,
//! driven over WebDriver by [`fantoccini`]. Where either program is missing, [`Browser::start`]
//! fails and says how to install them: a browser test never skips.
//!
//! chromedriver runs in its own process group; dropping the [`Browser`] kills that group, so
//! Chromium and its helpers go with it even when a test panics.

use fantoccini::{Client, ClientBuilder};

/// The WebDriver client crate, for tests to name its types (`Locator`, …).
pub use fantoccini;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian puts the browser.
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// Where Debian puts its WebDriver server.
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// What to run where they are missing.
pub const INSTALL_HINT: &str = "apt-get install -y chromium chromium-driver";

/// Why the browser did not start.
#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    /// A program is not installed.
    #[error("{0} is missing: install Chromium and its driver with `{INSTALL_HINT}`")]
    Missing(&'static str),
    /// chromedriver did not start or did not answer.
    #[error("chromedriver did not come up: {0}")]
    Driver(String),
    /// The WebDriver session could not be made.
    #[error("no WebDriver session: {0}")]
    Session(String),
}

/// A headless Chromium session; see the module doc.
pub struct Browser {
    /// The WebDriver client (`goto`, `find`, `screenshot`, …).
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browser")
            .field("driver_pid", &self.driver.id())
            .finish_non_exhaustive()
    }
}

fn free_port() -> Result<u16, BrowserError> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| BrowserError::Driver(format!("no free port: {e}")))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| BrowserError::Driver(e.to_string()))
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with a `width` × `height` window.
    pub async fn start(width: u32, height: u32) -> Result<Browser, BrowserError> {
        for program in [CHROMIUM, CHROMEDRIVER] {
            if !Path::new(program).exists() {
                return Err(BrowserError::Missing(program));
            }
        }
        let profile = tempfile::Builder::new()
            .prefix("testkit-chromium-")
            .tempdir()
            .map_err(|e| BrowserError::Driver(format!("no profile directory: {e}")))?;
        let port = free_port()?;
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| BrowserError::Driver(format!("{CHROMEDRIVER}: {e}")))?;
        let browser = Browser {
            client: connect(port, &profile, width, height, driver.id()).await?,
            driver,
            _profile: profile,
        };
        // Headless windows start at the size asked; setting it again makes sure.
        browser
            .client
            .set_window_size(width, height)
            .await
            .map_err(|e| BrowserError::Session(e.to_string()))?;
        Ok(browser)
    }

    /// Ends the WebDriver session (Chromium quits), then the driver.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
        // Drop kills the driver's process group.
    }
}

async fn connect(
    port: u16,
    profile: &tempfile::TempDir,
    width: u32,
    height: u32,
    driver_pid: u32,
) -> Result<Client, BrowserError> {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": CHROMIUM,
            "args": [
                "--headless=new",
                // Root in a container: Chromium's sandbox needs user namespaces.
                "--no-sandbox",
                "--disable-dev-shm-usage",
                "--disable-gpu",
                "--no-first-run",
                "--disable-extensions",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--metrics-recording-only",
                "--password-store=basic",
                // Crash reporters leave the process group (setsid); none are needed here.
                "--disable-crash-reporter",
                "--disable-breakpad",
                format!("--user-data-dir={}", profile.path().display()),
                format!("--window-size={width},{height}"),
            ],
        }),
    );
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(c) => return Ok(c),
            // Not listening yet.
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => {
                kill_group(driver_pid);
                return Err(BrowserError::Session(e.to_string()));
            }
        }
    }
}

fn kill_group(pid: u32) {
    if let Ok(pid) = i32::try_from(pid) {
        // SAFETY: a plain kill(2) of the process group this module started.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        kill_group(self.driver.id());
        let _ = self.driver.wait();
    }
}
