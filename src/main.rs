//! The `picturedeck` command: with no arguments it starts on 127.0.0.1 and opens the browser;
//! `--serve` runs headless; subcommands migrate, manage users and check the configuration.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context as _};
use clap::{Args, Parser, Subcommand};
use picturedeck::app::{self, AppState};
use picturedeck::config::{Config, LogFormat, Overrides};
use picturedeck::users::model::{Role, Status};
use picturedeck::users::service::{self, Registration};

#[derive(Parser)]
#[command(
    name = "picturedeck",
    version,
    about = "PictureDeck: a self-hosted AI visual-content studio"
)]
struct Cli {
    /// Run headless (no browser), listening on server.bind or --bind.
    #[arg(long)]
    serve: bool,
    /// Do not open a browser tab.
    #[arg(long)]
    no_browser: bool,
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Args, Clone)]
struct Common {
    /// Configuration file (TOML); see config.example.toml.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// ADDRESS:PORT to listen on.
    #[arg(long, global = true)]
    bind: Option<String>,
    /// Folder for the database, files and secrets.
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// sqlite:PATH or postgres://...
    #[arg(long, global = true)]
    database_url: Option<String>,
    /// PEM certificate chain for HTTPS.
    #[arg(long, global = true)]
    tls_cert: Option<PathBuf>,
    /// PEM private key for HTTPS.
    #[arg(long, global = true)]
    tls_key: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Same as --serve.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage accounts without the web UI.
    #[command(subcommand)]
    User(UserCommand),
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Check the mail set-up.
    #[command(subcommand)]
    Mail(MailCommand),
    /// Back up the database and the stored files into the new folder DEST, online.
    Backup { dest: PathBuf },
    /// Restore the backup in SRC into an empty database and an empty object store.
    Restore { src: PathBuf },
}

#[derive(Subcommand)]
enum MailCommand {
    /// Send a test mail to ADDRESS now (not through the queue) and print the SMTP dialogue.
    Test { address: String },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an account; the password is read from standard input unless --password is given.
    Create {
        username: String,
        email: String,
        #[arg(long)]
        admin: bool,
        #[arg(long)]
        password: Option<String>,
    },
    /// Set a new password (recovery when no mail server is configured).
    ResetPassword {
        username: String,
        #[arg(long)]
        password: Option<String>,
    },
    /// Ban an account: it cannot log in and its tokens stop working at once.
    Ban {
        username: String,
        /// Shown to the account's owner when refused.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Lift a ban.
    Unban { username: String },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate the configuration and print the effective values (secrets masked).
    Check,
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let c = &cli.common;
    let overrides = Overrides {
        data_dir: c.data_dir.clone(),
        bind: c.bind.clone(),
        database_url: c.database_url.clone(),
        tls_cert: c.tls_cert.clone(),
        tls_key: c.tls_key.clone(),
    };
    picturedeck::private_files::restrict_new_files();
    let config = Config::load(c.config.as_deref(), &overrides)?;
    if let Some(Command::Config(ConfigCommand::Check)) = &cli.command {
        print!("{}", config.masked_toml()?);
        if let Some(warning) = picturedeck::private_files::exposure_warning(&config.data_dir()) {
            eprintln!("warning: {warning}");
        }
        if let Some(dkim) = picturedeck::mail::check_dkim(&config.mail)? {
            println!(
                "# DKIM: a {}-bit RSA key; publish this DNS TXT record:\n# {}",
                dkim.bits,
                dkim.zone_line()
            );
        }
        println!("# configuration is valid");
        return Ok(());
    }
    init_logging(&config);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?; // startup
    runtime.block_on(async move {
        match cli.command {
            None => start(config, cli.serve, cli.no_browser).await,
            Some(Command::Serve) => start(config, true, true).await,
            Some(Command::Migrate) => {
                let url = config.database_url();
                let db = tokio::task::spawn_blocking(move || {
                    picturedeck::db::Db::connect(&url, 1).map(|_| ())
                })
                .await?;
                db?;
                println!(
                    "migrations applied to {}",
                    picturedeck::db::redact_url(&config.database_url())
                );
                Ok(())
            }
            Some(Command::User(cmd)) => user_command(config, cmd).await,
            Some(Command::Mail(MailCommand::Test { address })) => mail_test(config, &address).await,
            Some(Command::Config(_)) => Ok(()),
            Some(Command::Backup { dest }) => backup_command(config, &dest).await,
            Some(Command::Restore { src }) => restore_command(config, &src).await,
        }
    })
}

fn init_logging(config: &Config) {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    use tracing_subscriber::Layer as _;
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log.level));
    // Colours only for a person at a terminal, not in log files or journald.
    let output = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let output = match config.log.format {
        LogFormat::Json => output.json().boxed(),
        LogFormat::Text => output.boxed(),
    };
    // The log centre keeps warnings and errors whatever `log.level` lets through to the
    // output, so its filter is the output's alone.
    picturedeck::ops::logs::buffer().set_capacity(config.monitoring.log_buffer);
    let ring =
        picturedeck::ops::logs::layer().with_filter(tracing_subscriber::filter::LevelFilter::WARN);
    tracing_subscriber::registry()
        .with(output.with_filter(filter))
        .with(ring)
        .init();
}

async fn start(mut config: Config, serve: bool, no_browser: bool) -> anyhow::Result<()> {
    let stop = stop_signals().context("cannot listen for stop signals")?;
    // A server shows its gallery to visitors unless told otherwise; the desktop does not.
    config.gallery.anonymous.get_or_insert(serve);
    let configured = config.bind_addr()?;
    // The desktop mode serves only this machine unless told otherwise, and moves to a free
    // port if the configured one is taken; a server must get the address it was given.
    let desktop = !serve;
    let addr = if desktop && config.server.bind == Config::default().server.bind {
        std::net::SocketAddr::new([127, 0, 0, 1].into(), configured.port())
    } else {
        configured
    };
    let tls = config.server.tls_cert.is_some();
    let state = tokio::task::spawn_blocking(move || AppState::new(config, None)).await??;
    let cleared = picturedeck::library::archive::clear_temp(&state.config.data_dir());
    if cleared > 0 {
        tracing::info!(cleared, "removed temporary files of interrupted imports");
    }
    let listener = app::bind(addr, desktop)?;
    let local = listener.local_addr()?;
    let scheme = if tls { "https" } else { "http" };
    let host = if local.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        local.ip().to_string()
    };
    let url = format!("{scheme}://{host}:{}/", local.port());
    let state = Arc::new(state);
    state
        .storage
        .prepare()
        .await
        .context("storage is not usable")?;
    let recovered = picturedeck::generation::engine::recover(&state)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if recovered > 0 {
        tracing::info!(
            recovered,
            "tasks interrupted by the last stop are queued again"
        );
    }
    tokio::spawn(picturedeck::generation::engine::run(state.clone()));
    tokio::spawn(picturedeck::mail::worker::run(state.clone()));
    tokio::spawn(picturedeck::ops::run(state.clone()));
    tokio::spawn(picturedeck::backup::schedule::run(state.clone()));
    tokio::spawn(picturedeck::gallery::run(state.clone()));
    let server = app::server(state, listener)?;
    let handle = server.handle();
    tokio::spawn(async move {
        stop.await;
        tracing::info!("stopping: finishing the requests in flight");
        handle.stop(true).await;
    });
    println!("PictureDeck is running at {url}  (Ctrl-C stops it)");
    tracing::info!(%url, "listening");
    if desktop && !no_browser {
        open_browser(&url);
    }
    server.await.context("server stopped with an error")
}

/// Ctrl-C, and SIGTERM on Unix or closing the console on Windows. The handlers are installed
/// when this is called, so a signal that arrives while the server starts still stops it cleanly.
#[cfg(unix)]
fn stop_signals() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = interrupt.recv() => {}
        }
    })
}

#[cfg(windows)]
fn stop_signals() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::windows;
    let mut ctrl_c = windows::ctrl_c()?;
    let mut close = windows::ctrl_close()?;
    let mut shutdown = windows::ctrl_shutdown()?;
    Ok(async move {
        tokio::select! {
            _ = ctrl_c.recv() => {}
            _ = close.recv() => {}
            _ = shutdown.recv() => {}
        }
    })
}

/// Opens the browser `BROWSER` names (the convention of xdg-open and Python), else the default
/// browser where there is a display; elsewhere quietly does nothing.
fn open_browser(url: &str) {
    if let Some(browser) = std::env::var_os("BROWSER").filter(|b| !b.is_empty()) {
        match std::process::Command::new(&browser)
            .arg(url)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
        {
            // Reaped beside the server, so it never lingers as a zombie.
            Ok(mut child) => {
                std::thread::spawn(move || child.wait());
            }
            Err(e) => tracing::warn!(
                "could not run BROWSER={} ({e}); open {url} yourself",
                browser.to_string_lossy()
            ),
        }
        return;
    }
    let has_display = if cfg!(any(windows, target_os = "macos")) {
        true
    } else {
        std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some()
    };
    if !has_display {
        tracing::info!("no display found; open {url} in a browser");
        return;
    }
    if let Err(e) = open::that_detached(url) {
        tracing::warn!("could not open a browser ({e}); open {url} yourself");
    }
}

/// `picturedeck backup DEST`: beside a running server or not.
async fn backup_command(config: Config, dest: &std::path::Path) -> anyhow::Result<()> {
    let state = tokio::task::spawn_blocking(move || AppState::new(config, None)).await??;
    let summary = picturedeck::backup::backup(&state.db, &state.storage, dest).await?;
    println!("backup written to {}: {summary}", dest.display());
    Ok(())
}

/// `picturedeck restore SRC`: the database and store the configuration names must be empty.
async fn restore_command(config: Config, src: &std::path::Path) -> anyhow::Result<()> {
    let data_dir = config.data_dir();
    picturedeck::private_files::create_private_dir(&data_dir)?;
    let storage = app::storage_from(&config, &data_dir)?;
    let url = config.database_url();
    let summary = picturedeck::backup::restore(&url, &storage, src).await?;
    println!(
        "restored {} into {}: {summary}",
        src.display(),
        picturedeck::db::redact_url(&url)
    );
    Ok(())
}

/// Sends one test mail straight away and prints each step of the conversation.
async fn mail_test(config: Config, address: &str) -> anyhow::Result<()> {
    let mailer = picturedeck::mail::Mailer::from_config(&config.mail, &config.data_dir())?;
    let report = picturedeck::mail::send_test(&mailer, address).await;
    for line in &report.dialogue {
        println!("  {line}");
    }
    match report.outcome {
        Ok(reply) => {
            println!("test mail sent to {address}: {reply}");
            Ok(())
        }
        Err(failure) => bail!("test mail not sent: {}", failure.reason()),
    }
}

fn read_password(given: Option<String>) -> anyhow::Result<String> {
    if let Some(p) = given {
        return Ok(p);
    }
    eprint!("password: ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    if password.is_empty() {
        bail!("no password given (pass --password or type it on standard input)");
    }
    Ok(password)
}

async fn user_command(config: Config, cmd: UserCommand) -> anyhow::Result<()> {
    let state = tokio::task::spawn_blocking(move || AppState::new(config, None)).await??;
    let explain = |e: picturedeck::error::AppError| {
        let message = picturedeck::i18n::text(picturedeck::i18n::Lang::En, e.key());
        match e.field() {
            Some(field) => anyhow::anyhow!("{field}: {message}"),
            None => anyhow::anyhow!("{message} ({e})"),
        }
    };
    match cmd {
        UserCommand::Create {
            username,
            email,
            admin,
            password,
        } => {
            let password = read_password(password)?;
            let role = if admin { Role::Admin } else { Role::User };
            let input = Registration {
                username,
                email,
                password,
            };
            let user = service::create_user(&state, input, role, None)
                .await
                .map_err(explain)?;
            println!("created {} <{}> ({})", user.username, user.email, user.role);
        }
        UserCommand::ResetPassword { username, password } => {
            let user = service::find_by_username(&state, &username)
                .await
                .map_err(explain)?;
            let password = read_password(password)?;
            service::admin_set_password(&state, &user, &password)
                .await
                .map_err(explain)?;
            println!(
                "password of {} changed; its sessions were ended",
                user.username
            );
        }
        UserCommand::Ban { username, reason } => {
            let user = service::find_by_username(&state, &username)
                .await
                .map_err(explain)?;
            service::set_status(&state, &user, Status::Banned, reason.as_deref())
                .await
                .map_err(explain)?;
            println!("{} is banned", user.username);
        }
        UserCommand::Unban { username } => {
            let user = service::find_by_username(&state, &username)
                .await
                .map_err(explain)?;
            service::set_status(&state, &user, Status::Active, None)
                .await
                .map_err(explain)?;
            println!("{} is active again", user.username);
        }
    }
    Ok(())
}
