//! A real registry for chapters 09-10: Debian's `docker-registry` (the CNCF
//! distribution server, 2.8) on loopback, one per check, with its storage, config
//! and log in a fresh temporary directory.
//!
//! Images are built with [`crate::oci`] and pushed with a real client (skopeo).
//! The checks then count what a pull fetched from the server's access log
//! ([`Registry::blob_fetches`], [`Registry::manifest_fetches`]) and can make the
//! server lie about a blob ([`Registry::corrupt_blob`]).
//!
//! What docker-registry 2.8 logs for each request, after the response: a logrus
//! line (`time=... msg="response completed" ... http.request.uri=...`) and an
//! access-log line in Apache's combined format, which is the one read here:
//!
//! ```text
//! 127.0.0.1 - - [23/Nov/2026:16:15:43 +0000] "GET /v2/foo/bar/blobs/sha256:927c... HTTP/1.1" 200 292 "" "curl/7.88.1"
//! ```
//!
//! With the filesystem storage driver the server sends blobs itself (200, or 206
//! for a Range request); it redirects (307) only with a cloud storage driver.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::token_issuer::{self, TokenIssuer};

/// How long the server may take to say which port it listens on.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long it may take to stop after SIGTERM before it gets SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(3);
/// The prefix of every registry's temporary directory: PREFIX<pid>-<n>.
const DIR_PREFIX: &str = "workshop-registry-";
/// The query of the requests [`Registry::sync_log`] makes, left out of [`Registry::accesses`].
const SYNC_MARKER: &str = "workshop-log-sync=";

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A running `docker-registry serve`, listening on 127.0.0.1 only, without TLS
/// and, unless started with [`Registry::start_with`], without authentication.
/// Stopped, and its directory removed, when dropped.
pub struct Registry {
    child: Child,
    dir: PathBuf,
    port: u16,
    auth: Auth,
}

/// How the registry wants its clients to authenticate.
pub enum Auth {
    /// Anyone may pull and push.
    Anonymous,
    /// `WWW-Authenticate: Basic`: this user and password (an htpasswd file).
    Basic { user: String, password: String },
    /// `WWW-Authenticate: Bearer`: tokens from this issuer (as Docker Hub does).
    Token(TokenIssuer),
}

/// An HTTP response, as [`Registry::get`] received it.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    /// Header names as the server sent them; see [`Response::header`].
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// One line of the access log: `GET /v2/foo/manifests/latest 200`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    pub method: String,
    /// The request's path, without its query string.
    pub path: String,
    pub status: u16,
}

impl Registry {
    /// Starts a registry in a new temporary directory and waits until it listens.
    pub fn start() -> Registry {
        Registry::start_with(Auth::Anonymous)
    }

    /// Starts a registry that asks its clients to authenticate as `auth` says.
    pub fn start_with(auth: Auth) -> Registry {
        reclaim_stale_dirs();
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("{DIR_PREFIX}{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("storage")).unwrap();
        let config = dir.join("config.yml");
        let mut yaml = config_yaml(&dir.join("storage"));
        match &auth {
            Auth::Anonymous => {}
            Auth::Basic { user, password } => {
                let hash = bcrypt::hash(password, 5).unwrap(); // the only format it reads
                std::fs::write(dir.join("htpasswd"), format!("{user}:{hash}\n")).unwrap();
                yaml.push_str(&format!(
                    "auth:\n  htpasswd:\n    realm: workshop\n    path: {}\n",
                    dir.join("htpasswd").display()
                ));
            }
            Auth::Token(issuer) => {
                issuer.write_certificate(&dir.join("token.crt"));
                yaml.push_str(&format!(
                    "auth:\n  token:\n    realm: {}\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
                    issuer.realm(),
                    token_issuer::SERVICE,
                    token_issuer::ISSUER,
                    dir.join("token.crt").display()
                ));
            }
        }
        std::fs::write(&config, yaml).unwrap();
        let log = std::fs::File::create(dir.join("registry.log")).unwrap();

        let mut command = Command::new("docker-registry");
        command
            .arg("serve")
            .arg(&config)
            .current_dir(&dir)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        let parent = std::process::id();
        // SAFETY: prctl(2) and getppid(2) are async-signal-safe, as pre_exec requires.
        unsafe {
            command.pre_exec(move || {
                // The server dies with the test process, even one killed by Ctrl-C.
                nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)?;
                if std::os::unix::process::parent_id() != parent {
                    return Err(std::io::Error::other("the test process is gone"));
                }
                Ok(())
            });
        }
        let child = spawn_from_lasting_thread(command).unwrap_or_else(|e| {
            panic!(
                "could not start docker-registry: {e}\n\
                 (sudo scripts/provision.sh installs it: Debian's package docker-registry)"
            )
        });
        std::fs::write(dir.join("registry.pid"), child.id().to_string()).unwrap();
        let mut registry = Registry {
            child,
            dir,
            port: 0,
            auth,
        };
        registry.port = registry.wait_for_port();
        registry
    }

    /// Where clients reach it: "127.0.0.1:PORT".
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// How it wants clients to authenticate.
    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its temporary directory: config.yml, registry.log, storage/.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Everything the server has logged so far (for a check's failure message).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("registry.log")).unwrap_or_default()
    }

    /// Every request the server has answered so far, in order (but the grader's
    /// own log syncs). Requests answered before this call are all in (see
    /// [`Registry::sync_log`]).
    pub fn accesses(&self) -> Vec<Access> {
        self.sync_log();
        self.log()
            .lines()
            .filter(|line| !line.contains(SYNC_MARKER))
            .filter_map(parse_access)
            .collect()
    }

    /// How many times a blob of `repository` (e.g. "library/busybox") was fetched:
    /// `GET /v2/<repository>/blobs/sha256:...` answered 200 (206 for a range,
    /// 307 for a redirect, which docker-registry 2.8 on a filesystem never sends).
    /// HEAD requests and failed GETs do not count; pushes only HEAD blobs.
    pub fn blob_fetches(&self, repository: &str) -> usize {
        let prefix = format!("/v2/{repository}/blobs/");
        self.accesses()
            .iter()
            .filter(|a| a.method == "GET" && matches!(a.status, 200 | 206 | 307))
            .filter(|a| {
                a.path
                    .strip_prefix(&prefix)
                    .is_some_and(|rest| rest.starts_with("sha256:"))
            })
            .count()
    }

    /// How many times the blob `digest` ("sha256:...") was fetched, from any repository.
    pub fn fetches_of_blob(&self, digest: &str) -> usize {
        let suffix = format!("/blobs/{digest}");
        self.accesses()
            .iter()
            .filter(|a| a.method == "GET" && matches!(a.status, 200 | 206 | 307))
            .filter(|a| a.path.starts_with("/v2/") && a.path.ends_with(&suffix))
            .count()
    }

    /// How many times a manifest (or image index) of `repository` was fetched, by
    /// tag or by digest: `GET /v2/<repository>/manifests/<reference>` answered 200.
    /// HEAD requests do not count.
    pub fn manifest_fetches(&self, repository: &str) -> usize {
        let prefix = format!("/v2/{repository}/manifests/");
        self.accesses()
            .iter()
            .filter(|a| a.method == "GET" && a.status == 200)
            .filter(|a| {
                a.path
                    .strip_prefix(&prefix)
                    .is_some_and(|rest| !rest.is_empty() && !rest.contains('/'))
            })
            .count()
    }

    /// Changes the stored bytes of blob `digest` ("sha256:HEX"), keeping its
    /// length, so the server sends wrong content under the right digest (it never
    /// checks what it sends). A gzip blob (a layer) stays valid gzip with the same
    /// uncompressed content (its header's MTIME changes): only a client that checks
    /// the digest notices. Any other blob gets its last byte changed.
    pub fn corrupt_blob(&self, digest: &str) {
        let hex = digest
            .strip_prefix("sha256:")
            .unwrap_or_else(|| panic!("corrupt_blob: {digest:?} is not a sha256:HEX digest"));
        assert!(
            hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
            "corrupt_blob: {digest:?} is not a sha256:HEX digest"
        );
        let data = self
            .dir
            .join("storage/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data");
        let mut bytes = std::fs::read(&data).unwrap_or_else(|e| {
            panic!(
                "corrupt_blob: the registry holds no blob {digest} ({}: {e})",
                data.display()
            )
        });
        assert!(!bytes.is_empty(), "corrupt_blob: blob {digest} is empty");
        const FHCRC: u8 = 0x02;
        if bytes.len() >= 10 && bytes[..3] == [0x1f, 0x8b, 0x08] && bytes[3] & FHCRC == 0 {
            bytes[4] ^= 0x01; // MTIME, which no decompressor checks
        } else {
            *bytes.last_mut().unwrap() ^= 0x01;
        }
        std::fs::write(&data, &bytes).unwrap();
    }

    /// `GET path` (e.g. "/v2/foo/manifests/latest") with these Accept media types,
    /// over plain HTTP/1.1. Panics if the server cannot be reached.
    pub fn get(&self, path: &str, accept: &[&str]) -> Response {
        http_get(&self.host(), path, accept).unwrap_or_else(|e| panic!("GET http://{}{path}: {e}", self.host()))
    }

    /// Makes sure every request answered before this call is in the log: the
    /// server writes a request's access line only after its response, so a check
    /// that reads the log right after a pull could miss the last request. Sends a
    /// marked request and waits for its line.
    pub fn sync_log(&self) {
        static SYNC: AtomicUsize = AtomicUsize::new(0);
        let marker = format!("/v2/?{SYNC_MARKER}{}", SYNC.fetch_add(1, Ordering::Relaxed));
        let _ = http_get(&self.host(), &marker, &[]);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if self.log().contains(&format!("\"GET {marker} ")) {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Reads the log until the server says `listening on 127.0.0.1:PORT`.
    fn wait_for_port(&mut self) -> u16 {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let log = self.log();
            let port = log
                .lines()
                .filter_map(|l| l.split("listening on 127.0.0.1:").nth(1))
                .find_map(|rest| rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok());
            if let Some(port) = port {
                return port;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("docker-registry exited ({status}) before listening:\n{log}");
            }
            if Instant::now() > deadline {
                panic!("docker-registry did not listen within {START_TIMEOUT:?}:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM);
            let deadline = Instant::now() + STOP_TIMEOUT;
            while Instant::now() < deadline && self.child.try_wait().ok().flatten().is_none() {
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
        if std::env::var_os("WORKSHOP_TEST_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

impl Response {
    /// The value of header `name` (any case), if the server sent it.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (for failure messages).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// The server's configuration: loopback only, storage in `storage`, info-level
/// log with the access log, deletes allowed, no cache (so a corrupted blob is
/// served as it is on disk), no background upload purging.
fn config_yaml(storage: &Path) -> String {
    format!(
        "version: 0.1
log:
  level: info
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: {}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:0
  secret: workshop-registry-not-a-secret
",
        storage.display()
    )
}

/// Parses an access-log line: `127.0.0.1 - - [date] "GET /path?q HTTP/1.1" 200 ...`.
fn parse_access(line: &str) -> Option<Access> {
    if line.starts_with("time=") {
        return None;
    }
    let (_, rest) = line.split_once("] \"")?;
    let (request, rest) = rest.split_once('"')?;
    let mut words = request.split(' ');
    let method = words.next()?.to_string();
    let uri = words.next()?;
    let status = rest.split_whitespace().next()?.parse().ok()?;
    let path = uri.split('?').next().unwrap_or(uri).to_string();
    Some(Access { method, path, status })
}

/// A plain HTTP/1.1 GET on a fresh connection, read to its end.
fn http_get(host: &str, path: &str, accept: &[&str]) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect(host)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut request =
        format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: workshop-grader\r\nConnection: close\r\n");
    if !accept.is_empty() {
        request.push_str(&format!("Accept: {}\r\n", accept.join(", ")));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no end of headers"))?;
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("no status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut response = Response {
        status,
        headers,
        body: raw[end + 4..].to_vec(),
    };
    if response
        .header("Transfer-Encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        response.body = dechunk(&response.body).ok_or_else(|| bad("bad chunked body"))?;
    }
    Ok(response)
}

/// Decodes a chunked HTTP body.
fn dechunk(mut raw: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = raw.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&raw[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        raw = &raw[line_end + 2..];
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(raw.get(..size)?);
        raw = raw.get(size + 2..)?;
    }
}

type SpawnRequest = (Command, mpsc::Sender<std::io::Result<Child>>);

/// Spawns `command` from a thread that lives as long as the process. The kernel
/// sends PR_SET_PDEATHSIG when the *thread* that forked the child ends, and each
/// test runs on a thread of its own: a registry forked there would die with its
/// test, even one a later test still uses.
fn spawn_from_lasting_thread(command: Command) -> std::io::Result<Child> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (sender, requests) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("registry-spawner".into())
            .spawn(move || {
                for (mut command, reply) in requests {
                    let _ = reply.send(command.spawn());
                }
            })
            .unwrap();
        Mutex::new(sender)
    });
    let (reply, result) = mpsc::channel();
    spawner.lock().unwrap().send((command, reply)).unwrap();
    result.recv().unwrap()
}

/// Removes what registries of test processes that no longer exist left behind
/// (a test process killed outright never runs Drop): a server still running
/// there is killed, its directory removed.
fn reclaim_stale_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(owner) = name
            .strip_prefix(DIR_PREFIX)
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if owner == std::process::id() || Path::new(&format!("/proc/{owner}")).exists() {
            continue;
        }
        let dir = entry.path();
        if let Some(pid) = std::fs::read_to_string(dir.join("registry.pid"))
            .ok()
            .and_then(|p| p.trim().parse::<i32>().ok())
        {
            // Only if that process is still this directory's server.
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(&dir.display().to_string()) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
