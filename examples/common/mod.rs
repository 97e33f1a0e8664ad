//! What the benchmark examples share: a throw-away PostgreSQL schema, the run header and the
//! summary table of `metric | value | target | ok?`.

use anyhow::Context as _;
use chrono::Utc;
use clap::ValueEnum;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;

/// The local server the benchmarks use unless `--pg-url` names another.
pub const PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh schema on the PostgreSQL server, dropped again when this is dropped (unless kept
/// for EXPLAIN by hand).
pub struct PgSchema {
    admin_url: String,
    name: String,
    keep: bool,
}

impl PgSchema {
    pub fn create(admin_url: &str, prefix: &str, keep: bool) -> anyhow::Result<PgSchema> {
        let mut conn = diesel::pg::PgConnection::establish(admin_url)
            .with_context(|| format!("PostgreSQL at {admin_url} is unreachable"))?;
        let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
        conn.batch_execute(&format!("CREATE SCHEMA {name}"))
            .context("cannot create the benchmark schema")?;
        Ok(PgSchema {
            admin_url: admin_url.to_string(),
            name,
            keep,
        })
    }

    /// The admin URL with the schema as search_path. `options=` already in the admin URL
    /// (say `-c auto_explain.log_min_duration=...` to log the plans of slow calls) are kept.
    pub fn url(&self) -> String {
        let path = format!("-csearch_path%3D{}", self.name);
        if let Some(at) = self.admin_url.find("options=") {
            let at = at + "options=".len();
            return format!(
                "{}{path}%20{}",
                &self.admin_url[..at],
                &self.admin_url[at..]
            );
        }
        let sep = if self.admin_url.contains('?') {
            '&'
        } else {
            '?'
        };
        format!("{}{sep}options={path}", self.admin_url)
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        let dropped = diesel::pg::PgConnection::establish(&self.admin_url)
            .map_err(anyhow::Error::from)
            .and_then(|mut c| {
                c.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name))
                    .map_err(anyhow::Error::from)
            });
        if let Err(e) = dropped {
            eprintln!("warning: schema {} was not dropped: {e:#}", self.name);
        }
    }
}

/// One line of the summary table.
pub struct Row {
    metric: String,
    value: String,
    target: String,
    ok: Option<bool>,
}

impl Row {
    pub fn check(metric: String, value: String, target: String, ok: bool) -> Row {
        Row {
            metric,
            value,
            target,
            ok: Some(ok),
        }
    }

    pub fn info(metric: String, value: String) -> Row {
        Row {
            metric,
            value,
            target: "-".into(),
            ok: None,
        }
    }
}

/// Title, date, host, commit (and whether the tree had changes) and the run's settings.
pub fn print_header(title: &str, run: &str) {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")?
                .split_once(':')
                .map(|x| x.1.trim().to_string())
        })
        .unwrap_or_default();
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let git = |a: &[&str]| {
        std::process::Command::new("git")
            .args(a)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let commit = git(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "none".into());
    let dirty =
        git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    println!("== PictureDeck {title}");
    println!("date:     {}", Utc::now().format("%Y-%m-%d %H:%M:%S UTC"));
    println!(
        "host:     Linux {}, {cpus} CPU(s), {cpu}",
        read("/proc/sys/kernel/osrelease").trim()
    );
    let changes = if dirty {
        " (with uncommitted changes)"
    } else {
        ""
    };
    println!("commit:   {commit}{changes}");
    println!("run:      {run}");
}

/// The summary as an aligned text table.
pub fn print_table(rows: &[Row]) {
    let cells: Vec<[String; 4]> =
        std::iter::once(["metric", "value", "target", "ok?"].map(String::from))
            .chain(rows.iter().map(|r| {
                let ok = match r.ok {
                    Some(true) => "yes",
                    Some(false) => "NO",
                    None => "-",
                };
                [
                    r.metric.clone(),
                    r.value.clone(),
                    r.target.clone(),
                    ok.to_string(),
                ]
            }))
            .collect();
    let width = |i: usize| {
        cells
            .iter()
            .map(|c| c[i].chars().count())
            .max()
            .unwrap_or(0)
    };
    let widths = [width(0), width(1), width(2)];
    println!("\n== summary (MB = 2^20 bytes)");
    for (n, c) in cells.iter().enumerate() {
        let pad = |s: &str, w: usize| format!("{s}{}", " ".repeat(w - s.chars().count()));
        println!(
            "{} | {} | {} | {}",
            pad(&c[0], widths[0]),
            pad(&c[1], widths[1]),
            pad(&c[2], widths[2]),
            c[3]
        );
        if n == 0 {
            println!(
                "{}-+-{}-+-{}-+----",
                "-".repeat(widths[0]),
                "-".repeat(widths[1]),
                "-".repeat(widths[2]),
            );
        }
    }
}
