//! A real SMTP server on loopback: aiosmtpd (Python, pinned in .ci/run) run by
//! `smtp_server.py`, started per test like moto_server. It keeps every accepted mail as a
//! file, and scripts 451/550 replies for some recipients (see the script).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{skipped, under_ci};

/// How the server speaks: plain, STARTTLS (required) or implicit TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Plain,
    Starttls,
    Tls,
}

pub struct SmtpServer {
    pub port: u16,
    out: tempfile::TempDir,
    child: Child,
}

/// One mail as the server received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: PathBuf,
    pub raw: String,
    pub meta: Value,
}

pub const USER: &str = "mailer";
pub const PASSWORD: &str = "s3cret";

fn script(name: &str) -> String {
    format!("{}/tests/it/support/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Whether Python with aiosmtpd and dkimpy is here; under CI its absence fails the test.
pub fn available() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import aiosmtpd, dkim"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        if under_ci() {
            panic!("python3 with aiosmtpd and dkimpy is required under CI (.ci/run installs them)");
        }
        skipped("python3 with aiosmtpd and dkimpy is missing; pip install aiosmtpd dkimpy");
    }
    ok
}

/// A loopback port nobody listens on (yet).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

impl SmtpServer {
    /// Starts the server on `port` with AUTH (`USER`/`PASSWORD`); `tls` names the certificate
    /// and key for the TLS modes.
    pub async fn start_on(port: u16, mode: Mode, tls: Option<&TlsFiles>) -> SmtpServer {
        let out = tempfile::tempdir().expect("tempdir");
        let mut cmd = Command::new("python3");
        cmd.arg(script("smtp_server.py"))
            .args(["--port", &port.to_string()])
            .arg("--out")
            .arg(out.path())
            .args(["--user", USER, "--password", PASSWORD])
            .args([
                "--mode",
                match mode {
                    Mode::Plain => "plain",
                    Mode::Starttls => "starttls",
                    Mode::Tls => "tls",
                },
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(tls) = tls {
            cmd.arg("--cert").arg(&tls.cert).arg("--key").arg(&tls.key);
        }
        let mut child = cmd.spawn().expect("python3 smtp_server.py");
        let stdout = child.stdout.take().expect("stdout");
        let ready = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            BufReader::new(stdout).read_line(&mut line).ok();
            line
        })
        .await
        .expect("join");
        assert_eq!(ready.trim(), "READY", "aiosmtpd did not start");
        SmtpServer { port, out, child }
    }

    pub async fn start(mode: Mode, tls: Option<&TlsFiles>) -> SmtpServer {
        Self::start_on(free_port(), mode, tls).await
    }

    pub fn mails(&self) -> Vec<Received> {
        let mut n = 1;
        let mut found = Vec::new();
        loop {
            let path = self.out.path().join(format!("{n}.eml"));
            let Ok(raw) = std::fs::read_to_string(&path) else {
                return found;
            };
            let meta =
                std::fs::read_to_string(self.out.path().join(format!("{n}.json"))).expect("meta");
            found.push(Received {
                path,
                raw,
                meta: serde_json::from_str(&meta).expect("meta json"),
            });
            n += 1;
        }
    }

    /// Waits (up to 20 s) until `n` mails arrived.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let mails = self.mails();
            if mails.len() >= n {
                return mails;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {n} mails arrived",
                mails.len()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A mail read by Python's email parser, its DKIM signature checked by dkimpy when
/// `dkim_record` is given.
pub fn check(mail: &Path, dkim_record: Option<&str>) -> Value {
    let mut cmd = Command::new("python3");
    cmd.arg(script("mail_check.py")).arg(mail);
    if let Some(record) = dkim_record {
        cmd.arg(record);
    }
    let out = cmd.output().expect("mail_check.py");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("mail_check json")
}

/// A test CA and a server certificate it signed for 127.0.0.1, made with the openssl CLI.
pub struct TlsFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    _dir: tempfile::TempDir,
}

pub fn tls_files() -> TlsFiles {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = |name: &str| dir.path().join(name);
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir.path())
            .output()
            .expect("openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    std::fs::write(
        p("leaf.ext"),
        "subjectAltName = IP:127.0.0.1, DNS:localhost\nbasicConstraints = CA:FALSE\n\
         keyUsage = digitalSignature, keyEncipherment\nextendedKeyUsage = serverAuth\n",
    )
    .expect("ext");
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=PictureDeck test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "leaf.ext",
    ]);
    TlsFiles {
        ca: p("ca.pem"),
        cert: p("server.pem"),
        key: p("server.key"),
        _dir: dir,
    }
}
