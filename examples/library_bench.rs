//! Results library benchmark: list pages with every filter at any depth, keyword search and
//! the folder tree, over a million results, through the library's own store functions.
//!
//!   cargo run --release --example library_bench -- --backend sqlite
//!   cargo run --release --example library_bench -- --backend postgres
//!   cargo run --release --example library_bench -- --backend sqlite --results 100000 --queries 50
//!
//! A fresh database (a temp SQLite file, or a fresh schema on PostgreSQL) is migrated by
//! `db::Db::connect` and filled with raw multi-row INSERTs: users, results (generations),
//! folders, file nodes and tags, all from one seeded RNG, so both backends get the same data.
//! After ANALYZE every figure is the wall time of one call of `library::store::list` (the
//! query `library::service::list` runs for a page), of the whole `service::list`, of one real
//! `GET /library` page over loopback, of `store::folders` + `store::folder_counts` (what
//! `service::tree` runs) or of the whole `service::tree`. See docs/benchmarks.md
//! ("Results library") for what each figure means.
//!
//! This is a measurement, not a test: it exits 0 when a target is missed, and non-zero only
//! when the benchmark itself cannot run. The temp dir and the PostgreSQL schema are removed at
//! the end, also after an error or Ctrl-C, unless `--keep` asks to leave them for EXPLAIN.

mod common;

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context as _};
use chrono::{NaiveDate, NaiveDateTime};
use clap::Parser;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use picturedeck::app::AppState;
use picturedeck::config::Config;
use picturedeck::db::schema::{collections, generations, users};
use picturedeck::db::{Db, DbConn};
use picturedeck::generation::model::Generation;
use picturedeck::library::service::PAGE_SIZE;
use picturedeck::library::store::{self, Filter};
use picturedeck::mail::Mailer;
use picturedeck::users::model::User;
use rand::distributions::{Distribution, WeightedIndex};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use common::{print_header, print_table, Backend, PgSchema, Row, PG_ADMIN_URL};

/// Rows per INSERT statement, and statements per transaction.
const ROWS_PER_INSERT: usize = 1000;
const INSERTS_PER_TX: usize = 50;
/// What the service asks for: one page plus one row to know whether there is a next page.
const LIMIT: i64 = PAGE_SIZE + 1;
/// The user who owns the keyword-search results, and the heaviest user, who also owns the
/// big folder tree. Users are inserted first, so their ids are 1..=users.
const KEYWORD_USER: i64 = 1;
const HEAVY_USER: i64 = 2;
/// Results are spread over this many days before END_DAY.
const DAYS: i64 = 90;
const END_DAY: (i32, u32, u32) = (2026, 11, 24);
const MAX_DEPTH: usize = 6;

// Targets from the issue.
const TARGET_LIST_P99_MS: f64 = 15.0;
const TARGET_KEYWORD_P99_MS: f64 = 100.0;
const TARGET_TREE_MS: f64 = 20.0;

#[derive(Debug, Parser)]
#[command(about = "Benchmarks the results library's queries on a million results")]
struct Args {
    #[arg(long, value_enum, default_value = "sqlite")]
    backend: Backend,
    #[arg(long, default_value_t = 1000)]
    users: usize,
    /// Results (generation rows) in all.
    #[arg(long, default_value_t = 1_000_000)]
    results: usize,
    #[arg(long, default_value_t = 20_000)]
    folders: usize,
    /// Timed calls per measured case.
    #[arg(long, default_value_t = 200)]
    queries: usize,
    /// Seeds both the data and the choice of users, folders and filters.
    #[arg(long, default_value_t = 20_261_124)]
    seed: u64,
    /// PostgreSQL server to use; each run works in a fresh schema that it drops at the end.
    #[arg(long, default_value = PG_ADMIN_URL)]
    pg_url: String,
    /// Leave the database (SQLite file or PostgreSQL schema) in place and print where it is.
    #[arg(long)]
    keep: bool,
}

static STOP: AtomicBool = AtomicBool::new(false);

/// Ctrl-C sets STOP; the loops check it, so the temp dir and the schema are still removed.
fn watch_ctrl_c() {
    std::thread::spawn(|| {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        if rt.block_on(tokio::signal::ctrl_c()).is_ok() {
            eprintln!("\ninterrupted: stopping after the current statement");
            STOP.store(true, Ordering::SeqCst);
        }
    });
}

fn check_stop() -> anyhow::Result<()> {
    if STOP.load(Ordering::SeqCst) {
        bail!("interrupted");
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let args = Args::parse();
    ensure!(args.users >= 3, "--users must be at least 3");
    ensure!(args.results >= 1000, "--results must be at least 1000");
    ensure!(
        args.folders >= 2 && args.queries >= 1,
        "--folders must be at least 2 and --queries at least 1"
    );
    watch_ctrl_c();
    print_header(
        "results library benchmark",
        &format!(
            "backend {:?}, {} users, {} results, {} folders, {} calls per case, seed {}",
            args.backend, args.users, args.results, args.folders, args.queries, args.seed
        ),
    );
    let rows = run(&args)?;
    print_table(&rows);
    Ok(())
}

fn run(args: &Args) -> anyhow::Result<Vec<Row>> {
    // Declared first, dropped last: after every connection below is closed.
    let schema = match args.backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(PgSchema::create(&args.pg_url, "libbench", args.keep)?),
    };
    let dir = tempfile::tempdir().context("cannot create a temp dir")?;
    let db_path = dir.path().join("library.db");
    let url = match &schema {
        Some(s) => s.url(),
        None => format!("sqlite:{}", db_path.display()),
    };
    let started = Instant::now();
    let db = Db::connect(&url, 2)?;
    println!(
        "\n== migrated a fresh database in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let mut conn = db.get()?;
    let mut rng = StdRng::seed_from_u64(args.seed);

    let mut rows = Vec::new();
    let data = fill(&mut conn, args, &mut rng, &mut rows)?;
    // A new pool, so that the measured calls run with the app's own pragmas, not the fill's.
    drop(conn);
    drop(db);
    let db = Db::connect(&url, 2)?;
    let mut conn = db.get()?;

    let started = Instant::now();
    match args.backend {
        // A library filled over 90 days would have been vacuumed by autovacuum too.
        Backend::Postgres => conn.batch_execute("VACUUM (ANALYZE)")?,
        Backend::Sqlite => conn.batch_execute("ANALYZE")?,
    }
    let analyze = started.elapsed();
    println!(
        "{} in {:.2} s",
        match args.backend {
            Backend::Postgres => "VACUUM (ANALYZE)",
            Backend::Sqlite => "ANALYZE",
        },
        analyze.as_secs_f64()
    );
    rows.push(Row::info(
        "ANALYZE (PostgreSQL: VACUUM (ANALYZE))".into(),
        format!("{:.2} s", analyze.as_secs_f64()),
    ));
    rows.push(Row::info(
        "database size".into(),
        database_size(&mut conn, args.backend, &db_path)?,
    ));

    lists(&mut conn, &data, args, &mut rng, &mut rows)?;
    keywords(&mut conn, &data, args, &mut rows)?;
    tree(&mut conn, &data, args, &url, &dir, &mut rows)?;

    rows.push(Row::info(
        "export of 1 GB: peak RSS".into(),
        "not measured here: see examples/export_bench.rs".into(),
    ));
    drop(conn);
    drop(db);
    if args.keep {
        match &schema {
            Some(s) => println!("\nkept: {}", s.url()),
            None => {
                let kept = dir.keep();
                println!("\nkept: {}", kept.join("library.db").display());
            }
        }
    }
    Ok(rows)
}

// --- the data ----------------------------------------------------------------------------------

/// What the fill decided, kept to pick realistic users, folders, tags and cursors later.
struct Data {
    users: usize,
    /// (created_at, id) of each user's live (not deleted) results, ascending; index
    /// user_id - 1. A keyset for `Filter::after`.
    live: Vec<Vec<(NaiveDateTime, i64)>>,
    /// Folder ids of each user.
    folders: Vec<Vec<i64>>,
    /// Tags each user has used, as bits into TAGS.
    tags: Vec<u32>,
    /// Live prompts of the keyword user and of the heavy user, for hit counts.
    keyword_prompts: Vec<String>,
    heavy_prompts: Vec<String>,
    file_nodes: usize,
}

impl Data {
    fn live_of(&self, user: i64) -> &[(NaiveDateTime, i64)] {
        self.live.get(user as usize - 1).map_or(&[], Vec::as_slice)
    }

    fn folders_of(&self, user: i64) -> &[i64] {
        self.folders
            .get(user as usize - 1)
            .map_or(&[], Vec::as_slice)
    }
}

/// Words of prompts, with how often each is picked relative to the others of its list.
type Words = &'static [(&'static str, u32)];

const EN_ADJ: Words = &[
    ("cute", 20),
    ("giant", 12),
    ("ancient", 10),
    ("futuristic", 10),
    ("tiny", 8),
    ("glowing", 6),
    ("mechanical", 4),
    ("melancholic", 2),
];
const EN_SUBJECT: Words = &[
    ("cat", 30),
    ("girl", 24),
    ("dog", 20),
    ("robot", 16),
    ("dragon", 14),
    ("castle", 12),
    ("astronaut", 10),
    ("lighthouse", 8),
    ("samurai", 7),
    ("fox", 6),
    ("sports car", 5),
    ("teapot", 3),
    ("jellyfish", 2),
    ("axolotl", 1),
];
const EN_PLACE: Words = &[
    ("in a forest", 20),
    ("on the beach", 16),
    ("in a neon city", 14),
    ("on a snowy mountain", 10),
    ("in space", 10),
    ("in the desert", 8),
    ("under the sea", 8),
    ("in a library", 5),
    ("in a bamboo grove", 4),
    ("on Mars", 2),
];
const EN_STYLE: Words = &[
    ("photorealistic", 24),
    ("anime style", 20),
    ("watercolor", 14),
    ("oil painting", 12),
    ("cyberpunk", 12),
    ("pixel art", 6),
    ("studio ghibli style", 5),
    ("ukiyo-e", 3),
    ("isometric 3d render", 3),
    ("art nouveau", 1),
];
const EN_LIGHT: Words = &[
    ("golden hour", 20),
    ("sunset", 18),
    ("soft light", 14),
    ("neon lights", 10),
    ("moonlight", 8),
    ("fog", 6),
    ("volumetric light", 4),
    ("aurora", 2),
];
const ZH_ADJ: Words = &[
    ("可爱的", 20),
    ("巨大的", 12),
    ("古老的", 10),
    ("未来感的", 10),
    ("小小的", 8),
    ("发光的", 6),
    ("机械", 4),
    ("忧郁的", 2),
];
const ZH_SUBJECT: Words = &[
    ("猫", 30),
    ("少女", 24),
    ("小狗", 20),
    ("机器人", 16),
    ("龙", 14),
    ("古风城堡", 10),
    ("宇航员", 10),
    ("灯塔", 8),
    ("武士", 7),
    ("狐狸", 6),
    ("熊猫", 6),
    ("跑车", 5),
    ("锦鲤", 3),
    ("青花瓷瓶", 2),
    ("兵马俑", 1),
];
const ZH_PLACE: Words = &[
    ("森林里", 20),
    ("海边", 16),
    ("城市夜景", 14),
    ("雪山之巅", 10),
    ("太空中", 10),
    ("沙漠", 8),
    ("海底", 8),
    ("图书馆", 5),
    ("竹林", 4),
    ("敦煌石窟", 1),
];
const ZH_STYLE: Words = &[
    ("写实摄影", 24),
    ("动漫风格", 20),
    ("水彩", 14),
    ("油画", 12),
    ("赛博朋克", 12),
    ("水墨画", 8),
    ("像素风", 6),
    ("国潮插画", 3),
    ("工笔画", 2),
];
const ZH_LIGHT: Words = &[
    ("黄金时刻", 20),
    ("日落", 18),
    ("柔光", 14),
    ("霓虹灯", 10),
    ("月光", 8),
    ("薄雾", 6),
    ("丁达尔光", 4),
    ("极光", 2),
];
const TAGS: Words = &[
    ("精选", 20),
    ("wallpaper", 14),
    ("风景", 12),
    ("人像", 10),
    ("draft", 9),
    ("client", 8),
    ("头像", 7),
    ("海报", 6),
    ("final", 6),
    ("concept", 5),
    ("壁纸", 5),
    ("reference", 4),
    ("产品", 4),
    ("social", 3),
    ("客户A", 3),
    ("print", 2),
    ("春节", 2),
    ("logo", 2),
    ("水墨", 1),
    ("review", 1),
];
/// Keywords searched, from frequent to absent, in both languages.
const KEYWORDS: &[&str] = &[
    "cat",
    "Lighthouse",
    "golden hour",
    "axolotl",
    "猫",
    "水墨画",
    "敦煌",
    "no-such-word",
];
/// (provider, model, weight) of the models that make one kind.
type Models = &'static [(&'static str, &'static str, u32)];

const T2I_MODELS: Models = &[
    ("local", "procedural", 30),
    ("openai", "gpt-image-1", 40),
    ("wan", "wan2.2-t2i-flash", 30),
];
const I2I_MODELS: Models = &[
    ("local", "procedural", 30),
    ("openai", "gpt-image-1", 40),
    ("wan", "wan2.5-i2i-preview", 30),
];
const T2V_MODELS: Models = &[("local", "procedural", 40), ("wan", "wan2.2-t2v-plus", 60)];
const I2V_MODELS: Models = &[
    ("local", "procedural", 40),
    ("wan", "wan2.2-kf2v-flash", 60),
];
const KINDS: &[&str] = &["t2i", "i2i", "t2v", "i2v"];
const STATUSES: &[&str] = &["completed", "failed", "canceled", "queued", "processing"];
const PROVIDERS: &[&str] = &["local", "openai", "wan"];

/// Weighted pickers built once from the word lists.
struct Vocabulary {
    lists: Vec<(Words, WeightedIndex<u32>)>,
    models: Vec<(Models, WeightedIndex<u32>)>,
    tags: WeightedIndex<u32>,
}

const EN_LISTS: [Words; 5] = [EN_ADJ, EN_SUBJECT, EN_PLACE, EN_STYLE, EN_LIGHT];
const ZH_LISTS: [Words; 5] = [ZH_ADJ, ZH_SUBJECT, ZH_PLACE, ZH_STYLE, ZH_LIGHT];

impl Vocabulary {
    fn new() -> anyhow::Result<Vocabulary> {
        let weights = |w: Words| WeightedIndex::new(w.iter().map(|x| x.1));
        let mut lists = Vec::new();
        for w in EN_LISTS.iter().chain(ZH_LISTS.iter()) {
            lists.push((*w, weights(w)?));
        }
        let mut models = Vec::new();
        for m in [T2I_MODELS, I2I_MODELS, T2V_MODELS, I2V_MODELS] {
            models.push((m, WeightedIndex::new(m.iter().map(|x| x.2))?));
        }
        Ok(Vocabulary {
            lists,
            models,
            tags: weights(TAGS)?,
        })
    }

    /// A word of list `i`: 0..5 English adjective, subject, place, style, light; 5..10 Chinese.
    fn word(&self, i: usize, rng: &mut StdRng) -> &'static str {
        let (words, pick) = &self.lists[i];
        words[pick.sample(rng)].0
    }

    /// Mostly English, a third Chinese, some mixed; some i2v have no prompt at all.
    fn prompt(&self, rng: &mut StdRng) -> String {
        let w = |i: usize, rng: &mut StdRng| self.word(i, rng);
        let roll: f64 = rng.gen();
        let mut p = if roll < 0.55 {
            format!(
                "a {} {} {}, {}, {}",
                w(0, rng),
                w(1, rng),
                w(2, rng),
                w(3, rng),
                w(4, rng)
            )
        } else if roll < 0.90 {
            format!(
                "{}{}，{}，{}，{}",
                w(5, rng),
                w(6, rng),
                w(7, rng),
                w(8, rng),
                w(9, rng)
            )
        } else {
            format!("{}{}，{}, {}", w(5, rng), w(6, rng), w(2, rng), w(3, rng))
        };
        if rng.gen_bool(0.3) {
            p.push_str(if roll < 0.55 {
                ", highly detailed, 8k"
            } else {
                "，高清细节"
            });
        }
        p
    }

    fn model(&self, kind: usize, rng: &mut StdRng) -> (&'static str, &'static str) {
        let (list, pick) = &self.models[kind];
        let m = list[pick.sample(rng)];
        (m.0, m.1)
    }

    fn tag(&self, rng: &mut StdRng) -> usize {
        self.tags.sample(rng)
    }
}

/// Which user owns each result, in id order: the keyword user 5,000 (or a tenth of a smaller
/// run), the heavy user 5 %, the rest spread over the others, a tenth of whom are five times
/// as busy.
fn owners(args: &Args, rng: &mut StdRng) -> anyhow::Result<Vec<i64>> {
    let keyword = (args.results / 10).min(5000);
    let heavy = args.results / 20;
    let mut owners = Vec::with_capacity(args.results);
    owners.extend(std::iter::repeat_n(KEYWORD_USER, keyword));
    owners.extend(std::iter::repeat_n(HEAVY_USER, heavy));
    let others: Vec<i64> = (3..=args.users as i64).collect();
    let weights: Vec<u32> = others
        .iter()
        .map(|_| if rng.gen_bool(0.1) { 5 } else { 1 })
        .collect();
    let pick = WeightedIndex::new(&weights)?;
    while owners.len() < args.results {
        owners.push(others[pick.sample(rng)]);
    }
    owners.shuffle(rng);
    Ok(owners)
}

fn uuid(rng: &mut StdRng) -> String {
    uuid::Builder::from_random_bytes(rng.gen())
        .into_uuid()
        .to_string()
}

fn end_of_range() -> anyhow::Result<NaiveDateTime> {
    NaiveDate::from_ymd_opt(END_DAY.0, END_DAY.1, END_DAY.2)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .context("bad END_DAY")
}

// --- raw bulk SQL --------------------------------------------------------------------------------

/// Multi-row INSERT statements of ROWS_PER_INSERT rows, run INSERTS_PER_TX to a transaction.
struct Bulk {
    head: String,
    sql: String,
    rows_in_sql: usize,
    pending: Vec<String>,
    rows: usize,
}

impl Bulk {
    fn new(table: &str, columns: &str) -> Bulk {
        let head = format!("INSERT INTO {table} ({columns}) VALUES ");
        Bulk {
            sql: head.clone(),
            head,
            rows_in_sql: 0,
            pending: Vec::new(),
            rows: 0,
        }
    }

    /// Starts a row; append its values with the `v_*` functions, then call `end_row`.
    fn row(&mut self) -> &mut String {
        if self.rows_in_sql > 0 {
            self.sql.push(',');
        }
        self.sql.push('(');
        &mut self.sql
    }

    fn end_row(&mut self, conn: &mut DbConn) -> anyhow::Result<()> {
        // Every value ends with a comma; the last one's is replaced by the closing bracket.
        self.sql.pop();
        self.sql.push(')');
        self.rows_in_sql += 1;
        self.rows += 1;
        if self.rows_in_sql == ROWS_PER_INSERT {
            self.cut();
            if self.pending.len() == INSERTS_PER_TX {
                self.run(conn)?;
            }
        }
        Ok(())
    }

    fn cut(&mut self) {
        if self.rows_in_sql > 0 {
            let sql = std::mem::replace(&mut self.sql, self.head.clone());
            self.pending.push(sql);
            self.rows_in_sql = 0;
        }
    }

    fn run(&mut self, conn: &mut DbConn) -> anyhow::Result<()> {
        check_stop()?;
        let statements = std::mem::take(&mut self.pending);
        conn.transaction::<_, diesel::result::Error, _>(|conn| {
            for sql in &statements {
                conn.batch_execute(sql)?;
            }
            Ok(())
        })
        .with_context(|| format!("bulk insert failed: {}", truncate(&self.head, 80)))
    }

    fn finish(mut self, conn: &mut DbConn) -> anyhow::Result<usize> {
        self.cut();
        if !self.pending.is_empty() {
            self.run(conn)?;
        }
        Ok(self.rows)
    }
}

fn truncate(s: &str, n: usize) -> &str {
    s.char_indices().nth(n).map_or(s, |(i, _)| &s[..i])
}

fn v_text(out: &mut String, s: &str) {
    out.push('\'');
    for c in s.chars() {
        if c == '\'' {
            out.push('\'');
        }
        out.push(c);
    }
    out.push_str("',");
}

fn v_opt_text(out: &mut String, s: Option<&str>) {
    match s {
        Some(s) => v_text(out, s),
        None => out.push_str("NULL,"),
    }
}

fn v_int(out: &mut String, v: i64) {
    let _ = write!(out, "{v},");
}

fn v_opt_int(out: &mut String, v: Option<i64>) {
    match v {
        Some(v) => v_int(out, v),
        None => out.push_str("NULL,"),
    }
}

/// The text diesel itself stores for a Timestamp on SQLite ("%F %T%.f"), which PostgreSQL
/// reads as a timestamp literal; on SQLite the filters compare these strings.
fn v_ts(out: &mut String, t: NaiveDateTime) {
    let _ = write!(out, "'{}',", t.format("%F %T%.f"));
}

fn v_opt_ts(out: &mut String, t: Option<NaiveDateTime>) {
    match t {
        Some(t) => v_ts(out, t),
        None => out.push_str("NULL,"),
    }
}

// --- the fill -------------------------------------------------------------------------------------

fn fill(
    conn: &mut DbConn,
    args: &Args,
    rng: &mut StdRng,
    rows: &mut Vec<Row>,
) -> anyhow::Result<Data> {
    if args.backend == Backend::Sqlite {
        // Only for the fill: the measured queries run with the app's own pragmas.
        conn.batch_execute("PRAGMA synchronous = OFF; PRAGMA cache_size = -262144;")?;
    }
    let vocab = Vocabulary::new()?;
    let end = end_of_range()?;
    let start = end - chrono::Duration::days(DAYS);
    let fill_started = Instant::now();
    println!(
        "\n== fill: {} users, {} results, {} folders (raw multi-row INSERTs of {ROWS_PER_INSERT} rows, {INSERTS_PER_TX} to a transaction)",
        args.users, args.results, args.folders
    );

    // Users.
    let started = Instant::now();
    let mut bulk = Bulk::new(
        "users",
        "uuid, username, email, password_hash, role, status, token_version, daily_quota, \
         created_at, updated_at",
    );
    for u in 1..=args.users {
        let created = start - chrono::Duration::days(30) + chrono::Duration::minutes(u as i64);
        let uuid = uuid(rng);
        let out = bulk.row();
        v_text(out, &uuid);
        v_text(out, &format!("user{u}"));
        v_text(out, &format!("user{u}@bench.example"));
        v_text(out, "$argon2id$v=19$m=19456,t=2,p=1$bench$bench");
        v_text(out, "user");
        v_text(out, "active");
        v_int(out, 0);
        v_opt_int(out, None);
        v_ts(out, created);
        v_ts(out, created);
        bulk.end_row(conn)?;
    }
    let n = bulk.finish(conn)?;
    rows.push(fill_row("fill: users", n, started.elapsed()));

    // Results, in id order, created_at rising with the id over DAYS days.
    let started = Instant::now();
    let owners = owners(args, rng)?;
    let mut live: Vec<Vec<(NaiveDateTime, i64)>> = vec![Vec::new(); args.users];
    // (id, user, created_at) of the completed live results: what can be filed and tagged.
    let mut finished: Vec<(i64, i64, NaiveDateTime)> = Vec::new();
    let mut keyword_prompts = Vec::new();
    let mut heavy_prompts = Vec::new();
    let mut search_terms: Vec<(i64, String)> = Vec::with_capacity(args.results);
    let mut bulk = Bulk::new(
        "generations",
        "uuid, user_id, status, generation_type, prompt, parameters, provider, model, \
         remote_task_id, attempts, next_attempt_at, lease_owner, lease_expires_at, progress, \
         error_code, error_detail, result_url, physical_path, result_mime, result_bytes, \
         result_sha256, width, height, thumb_path, created_at, started_at, completed_at, \
         updated_at, deleted_at, favorite",
    );
    let span_ms = DAYS * 86_400_000;
    let step_ms = (span_ms / args.results as i64).max(1);
    let kind_pick = WeightedIndex::new([55u32, 20, 15, 10])?;
    let final_pick = WeightedIndex::new([92u32, 6, 2])?;
    let unfinished_from = args.results.saturating_sub(200);
    for (i, &user) in owners.iter().enumerate() {
        let id = i as i64 + 1;
        let created = start
            + chrono::Duration::milliseconds(
                span_ms * i as i64 / args.results as i64 + rng.gen_range(0..step_ms),
            );
        let kind = kind_pick.sample(rng);
        let (provider, model) = vocab.model(kind, rng);
        let status = if i >= unfinished_from {
            if rng.gen_bool(0.5) {
                "queued"
            } else {
                "processing"
            }
        } else {
            ["completed", "failed", "canceled"][final_pick.sample(rng)]
        };
        let prompt = if kind == 3 && rng.gen_bool(0.2) {
            None
        } else {
            Some(vocab.prompt(rng))
        };
        let deleted = status != "queued" && status != "processing" && rng.gen_bool(0.02);
        let completed = status == "completed";
        let favorite = completed && !deleted && rng.gen_bool(0.05);
        let uuid = uuid(rng);
        let video = kind >= 2;
        let seed: u32 = rng.gen();
        let parameters = match kind {
            1 | 3 => format!(
                r#"{{"seed":{seed},"size":"1024x1024","images":["{}"]}}"#,
                self::uuid(rng)
            ),
            _ if video => format!(r#"{{"seed":{seed},"size":"1280x720","duration":5}}"#),
            _ => format!(r#"{{"seed":{seed},"size":"1024x1024"}}"#),
        };
        let began = (status != "queued").then(|| created + chrono::Duration::seconds(1));
        let took = chrono::Duration::milliseconds(
            rng.gen_range(3_000..if video { 180_000 } else { 40_000 }),
        );
        let ended = match status {
            "completed" | "failed" | "canceled" => Some(created + took),
            _ => None,
        };
        let stored = completed && !deleted;
        let ext = if video { "mp4" } else { "png" };
        let out = bulk.row();
        v_text(out, &uuid);
        v_int(out, user);
        v_text(out, status);
        v_text(out, KINDS[kind]);
        v_opt_text(out, prompt.as_deref());
        v_text(out, &parameters);
        v_text(out, provider);
        v_text(out, model);
        v_opt_text(
            out,
            (provider == "wan" && status != "queued")
                .then(|| format!("task-{seed:08x}"))
                .as_deref(),
        );
        v_int(out, i64::from(status != "queued"));
        v_ts(out, created);
        v_opt_text(out, (status == "processing").then_some("bench-engine"));
        v_opt_ts(
            out,
            (status == "processing").then(|| created + chrono::Duration::minutes(5)),
        );
        v_int(
            out,
            match status {
                "completed" => 100,
                "processing" => 40,
                _ => 0,
            },
        );
        v_opt_text(out, (status == "failed").then_some("provider_error"));
        v_opt_text(
            out,
            (status == "failed").then_some("the provider answered 500 Internal Server Error"),
        );
        v_opt_text(out, None);
        v_opt_text(
            out,
            stored
                .then(|| format!("results/{user}/{uuid}.{ext}"))
                .as_deref(),
        );
        v_opt_text(
            out,
            completed.then_some(if video { "video/mp4" } else { "image/png" }),
        );
        v_opt_int(out, completed.then(|| rng.gen_range(200_000..6_000_000)));
        v_opt_text(
            out,
            completed
                .then(|| format!("{:016x}{:016x}{:016x}{:016x}", seed, seed ^ 7, id, user))
                .as_deref(),
        );
        v_opt_int(out, completed.then_some(if video { 1280 } else { 1024 }));
        v_opt_int(out, completed.then_some(if video { 720 } else { 1024 }));
        v_opt_text(
            out,
            stored
                .then(|| format!("thumbs/{user}/{uuid}.webp"))
                .as_deref(),
        );
        v_ts(out, created);
        v_opt_ts(out, began);
        v_opt_ts(out, ended);
        v_ts(out, ended.or(began).unwrap_or(created));
        v_opt_ts(out, deleted.then(|| created + chrono::Duration::days(1)));
        v_int(out, i64::from(favorite));
        bulk.end_row(conn)?;
        // The keyword index, as `generation::store::insert` writes it (after the results: the
        // rows refer to them).
        if let Some(p) = &prompt {
            search_terms.push((id, picturedeck::search::terms(p, Some(user))));
        }
        if !deleted {
            if let Some(rows) = live.get_mut(user as usize - 1) {
                rows.push((created, id));
            }
            if let Some(p) = prompt {
                match user {
                    KEYWORD_USER => keyword_prompts.push(p),
                    HEAVY_USER => heavy_prompts.push(p),
                    _ => {}
                }
            }
            if completed {
                finished.push((id, user, created));
            }
        }
        if i % 100_000 == 99_999 {
            println!(
                "   {} results, {:.0} s",
                i + 1,
                started.elapsed().as_secs_f64()
            );
        }
    }
    drop(owners);
    let n = bulk.finish(conn)?;
    rows.push(fill_row(
        "fill: results (generations)",
        n,
        started.elapsed(),
    ));
    let started = Instant::now();
    let mut bulk = Bulk::new("generation_search", "generation_id, terms");
    for (id, terms) in std::mem::take(&mut search_terms) {
        let out = bulk.row();
        v_int(out, id);
        v_text(out, &terms);
        bulk.end_row(conn)?;
    }
    let n = bulk.finish(conn)?;
    rows.push(fill_row("fill: keyword index", n, started.elapsed()));
    println!("results: {n} in {:.1} s", started.elapsed().as_secs_f64());

    // Folders: the heavy user 1,000 (10 at the top, then nested up to MAX_DEPTH levels), the
    // rest spread at random over the other users. Ids are 1.. in insertion order.
    let started = Instant::now();
    let mut per_user = vec![0usize; args.users];
    let heavy_folders = (args.folders / 2).min(1000);
    per_user[HEAVY_USER as usize - 1] = heavy_folders;
    for _ in heavy_folders..args.folders {
        let mut u = rng.gen_range(1..=args.users as i64);
        if u == HEAVY_USER {
            u = KEYWORD_USER;
        }
        per_user[u as usize - 1] += 1;
    }
    let order: Vec<i64> = std::iter::once(HEAVY_USER)
        .chain((1..=args.users as i64).filter(|u| *u != HEAVY_USER))
        .collect();
    let mut folders: Vec<Vec<i64>> = vec![Vec::new(); args.users];
    let mut bulk = Bulk::new(
        "collections",
        "uuid, user_id, parent_id, parent_key, name, node_type, generation_id, created_at, \
         updated_at",
    );
    let mut next_id = 1i64;
    let mut deepest = 0;
    for user in order {
        let count = per_user[user as usize - 1];
        // (id, depth) of this user's folders so far.
        let mut made: Vec<(i64, usize)> = Vec::with_capacity(count);
        for k in 0..count {
            let top = if user == HEAVY_USER {
                k < 10
            } else {
                k == 0 || rng.gen_bool(0.4)
            };
            let parent = if top {
                None
            } else {
                // Retry a few times for a parent that is not already at the deepest level.
                (0..8)
                    .map(|_| made[rng.gen_range(0..made.len())])
                    .find(|(_, d)| *d < MAX_DEPTH)
            };
            let depth = parent.map_or(1, |(_, d)| d + 1);
            deepest = deepest.max(depth);
            let name = if rng.gen_bool(0.5) {
                format!("项目 {k}")
            } else {
                format!("Folder {k}")
            };
            let created = start + chrono::Duration::minutes(rng.gen_range(0..DAYS * 1440));
            let uuid = uuid(rng);
            let out = bulk.row();
            v_text(out, &uuid);
            v_int(out, user);
            v_opt_int(out, parent.map(|p| p.0));
            v_int(out, parent.map_or(0, |p| p.0));
            v_text(out, &name);
            v_text(out, "folder");
            v_opt_int(out, None);
            v_ts(out, created);
            v_ts(out, created);
            bulk.end_row(conn)?;
            made.push((next_id, depth));
            folders[user as usize - 1].push(next_id);
            next_id += 1;
        }
    }
    let n = bulk.finish(conn)?;
    rows.push(fill_row("fill: folders", n, started.elapsed()));
    println!(
        "folders: {n}, deepest level {deepest}, in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // File nodes: 40 % of all results, drawn from the completed live ones.
    let started = Instant::now();
    let share = (0.4 * args.results as f64 / finished.len().max(1) as f64).min(1.0);
    let mut bulk = Bulk::new(
        "collections",
        "uuid, user_id, parent_id, parent_key, name, node_type, generation_id, created_at, \
         updated_at",
    );
    for &(id, user, created) in &finished {
        let mine = &folders[user as usize - 1];
        if mine.is_empty() || !rng.gen_bool(share) {
            continue;
        }
        let folder = mine[rng.gen_range(0..mine.len())];
        let at = created + chrono::Duration::minutes(rng.gen_range(1..10_000));
        let uuid = uuid(rng);
        let out = bulk.row();
        v_text(out, &uuid);
        v_int(out, user);
        v_int(out, folder);
        v_int(out, folder);
        v_text(out, "");
        v_text(out, "file");
        v_int(out, id);
        v_ts(out, at);
        v_ts(out, at);
        bulk.end_row(conn)?;
    }
    let file_nodes = bulk.finish(conn)?;
    rows.push(fill_row(
        "fill: file nodes (results in folders)",
        file_nodes,
        started.elapsed(),
    ));
    println!(
        "file nodes: {file_nodes} ({:.1} % of results) in {:.1} s",
        file_nodes as f64 * 100.0 / args.results as f64,
        started.elapsed().as_secs_f64()
    );

    // Tags: 1 to 3 on 5 % of the completed live results.
    let started = Instant::now();
    let mut tags = vec![0u32; args.users];
    let mut bulk = Bulk::new("generation_tags", "generation_id, user_id, tag");
    for &(id, user, _) in &finished {
        if !rng.gen_bool(0.05) {
            continue;
        }
        let mut chosen = 0u32;
        for _ in 0..rng.gen_range(1..=3) {
            chosen |= 1 << vocab.tag(rng);
        }
        tags[user as usize - 1] |= chosen;
        for (t, (tag, _)) in TAGS.iter().enumerate() {
            if chosen & (1 << t) != 0 {
                let out = bulk.row();
                v_int(out, id);
                v_int(out, user);
                v_text(out, tag);
                bulk.end_row(conn)?;
            }
        }
    }
    let n = bulk.finish(conn)?;
    rows.push(fill_row("fill: tags", n, started.elapsed()));
    println!("tags: {n} in {:.1} s", started.elapsed().as_secs_f64());

    if args.backend == Backend::Sqlite {
        conn.batch_execute("PRAGMA wal_checkpoint(TRUNCATE);")?;
    }
    let total = fill_started.elapsed();
    println!("fill done in {:.1} s", total.as_secs_f64());
    rows.push(Row::info(
        "fill: total".into(),
        format!("{:.1} s", total.as_secs_f64()),
    ));

    // The ids above were assumed to be 1.. in insertion order: check.
    let (count, max): (i64, Option<i64>) = generations::table
        .select((diesel::dsl::count_star(), diesel::dsl::max(generations::id)))
        .first(conn)?;
    ensure!(
        count == args.results as i64 && max == Some(count),
        "generation ids are not 1..{count}"
    );
    let (count, max): (i64, Option<i64>) = collections::table
        .select((diesel::dsl::count_star(), diesel::dsl::max(collections::id)))
        .first(conn)?;
    ensure!(
        max == Some(count) && count as usize == args.folders + file_nodes,
        "collection ids are not 1..{count}"
    );
    let heavy_folder_owner: i64 = collections::table
        .find(1)
        .select(collections::user_id)
        .first(conn)?;
    ensure!(heavy_folder_owner == HEAVY_USER, "folder ids out of order");
    let users: i64 = users::table.count().get_result(conn)?;
    ensure!(users as usize == args.users, "users missing");

    Ok(Data {
        users: args.users,
        live,
        folders,
        tags,
        keyword_prompts,
        heavy_prompts,
        file_nodes,
    })
}

fn fill_row(what: &str, n: usize, took: Duration) -> Row {
    Row::info(
        what.into(),
        format!(
            "{n} rows in {:.1} s ({:.0} rows/s)",
            took.as_secs_f64(),
            n as f64 / took.as_secs_f64().max(1e-9)
        ),
    )
}

fn database_size(
    conn: &mut DbConn,
    backend: Backend,
    path: &std::path::Path,
) -> anyhow::Result<String> {
    #[derive(QueryableByName)]
    struct Size {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        bytes: i64,
    }
    let mb = |b: u64| b as f64 / 1_048_576.0;
    Ok(match backend {
        Backend::Sqlite => {
            let size = |p: &std::path::Path| std::fs::metadata(p).map_or(0, |m| m.len());
            let wal = path.with_extension("db-wal");
            format!(
                "{:.0} MB (file) + {:.0} MB (WAL)",
                mb(size(path)),
                mb(size(&wal))
            )
        }
        Backend::Postgres => {
            let size: Size = diesel::sql_query(
                "SELECT (pg_total_relation_size('generations') \
                 + pg_total_relation_size('collections') \
                 + pg_total_relation_size('generation_tags'))::bigint AS bytes",
            )
            .get_result(conn)?;
            format!(
                "{:.0} MB (generations, collections, generation_tags with indexes)",
                mb(u64::try_from(size.bytes).unwrap_or(0))
            )
        }
    })
}

// --- measuring ------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
enum Case {
    Plain,
    Kind,
    Status,
    Provider,
    Model,
    Favorite,
    Folder,
    Unfiled,
    Tag,
    Dates,
    DatesNext,
    DatesOldestNext,
    Oldest,
    KindStatusModel,
    NoMatch,
    FavoriteTagDates,
    UnfiledStatusOldest,
    Deep,
    DeepOldest,
    DeepKindStatus,
    DeepUnfiled,
}

const CASES: &[Case] = &[
    Case::Plain,
    Case::Kind,
    Case::Status,
    Case::Provider,
    Case::Model,
    Case::Favorite,
    Case::Folder,
    Case::Unfiled,
    Case::Tag,
    Case::Dates,
    Case::DatesNext,
    Case::DatesOldestNext,
    Case::Oldest,
    Case::KindStatusModel,
    Case::NoMatch,
    Case::FavoriteTagDates,
    Case::UnfiledStatusOldest,
    Case::Deep,
    Case::DeepOldest,
    Case::DeepKindStatus,
    Case::DeepUnfiled,
];

impl Case {
    fn name(self) -> &'static str {
        match self {
            Case::Plain => "no filter",
            Case::Kind => "type",
            Case::Status => "status",
            Case::Provider => "model: provider only",
            Case::Model => "model: provider/model",
            Case::Favorite => "favorite",
            Case::Folder => "folder",
            Case::Unfiled => "unfiled",
            Case::Tag => "tag",
            Case::Dates => "date range",
            Case::DatesNext => "date range, next page",
            Case::DatesOldestNext => "date range, oldest first, next page",
            Case::Oldest => "oldest first",
            Case::KindStatusModel => "type + status + model",
            Case::NoMatch => "type + model that never match",
            Case::FavoriteTagDates => "favorite + tag + date range",
            Case::UnfiledStatusOldest => "unfiled + status + oldest first",
            Case::Deep => "next page from a random depth",
            Case::DeepOldest => "next page, random depth, oldest first",
            Case::DeepKindStatus => "next page, random depth, type + status",
            Case::DeepUnfiled => "next page, random depth, unfiled",
        }
    }

    /// The filter of one call; the next-page cases read their first page here, off the clock.
    fn filter(
        self,
        conn: &mut DbConn,
        user: i64,
        data: &Data,
        rng: &mut StdRng,
    ) -> anyhow::Result<Filter> {
        let end = end_of_range()?;
        let mut f = Filter::default();
        let kind = |rng: &mut StdRng| KINDS[rng.gen_range(0..KINDS.len())].to_string();
        let status = |rng: &mut StdRng| STATUSES[rng.gen_range(0..STATUSES.len())].to_string();
        let dates = |f: &mut Filter, rng: &mut StdRng| {
            // Whole days, as the service turns `from` and `to` into [from, to + 1 day).
            let from = end - chrono::Duration::days(rng.gen_range(1..=DAYS));
            f.from = Some(from);
            f.until = Some(from + chrono::Duration::days(rng.gen_range(1..=14)));
        };
        let folder = |rng: &mut StdRng| {
            let mine = data.folders_of(user);
            (!mine.is_empty()).then(|| mine[rng.gen_range(0..mine.len())])
        };
        let tag = |rng: &mut StdRng| {
            let used = data.tags.get(user as usize - 1).copied().unwrap_or(0);
            let mine: Vec<&str> = TAGS
                .iter()
                .enumerate()
                .filter(|(i, _)| used & (1 << i) != 0)
                .map(|(_, t)| t.0)
                .collect();
            mine.choose(rng).copied().unwrap_or(TAGS[0].0).to_string()
        };
        // The keyset of a random live row of the user: a page at any depth.
        let deep = |rng: &mut StdRng| {
            let rows = data.live_of(user);
            (!rows.is_empty()).then(|| rows[rng.gen_range(0..rows.len())])
        };
        let model = |f: &mut Filter, rng: &mut StdRng| {
            let all = [T2I_MODELS, I2I_MODELS, T2V_MODELS, I2V_MODELS];
            let list = all[rng.gen_range(0..all.len())];
            let (p, m, _) = list[rng.gen_range(0..list.len())];
            f.provider = Some(p.to_string());
            f.model = Some(m.to_string());
        };
        match self {
            Case::Plain => {}
            Case::Kind => f.kind = Some(kind(rng)),
            Case::Status => f.status = Some(status(rng)),
            Case::Provider => {
                f.provider = Some(PROVIDERS[rng.gen_range(0..PROVIDERS.len())].to_string())
            }
            Case::Model => model(&mut f, rng),
            Case::Favorite => f.favorite = Some(true),
            Case::Folder => f.folder = Some(folder(rng)),
            Case::Unfiled => f.folder = Some(None),
            Case::Tag => f.tag = Some(tag(rng)),
            Case::Dates => dates(&mut f, rng),
            Case::DatesNext | Case::DatesOldestNext => {
                f.oldest_first = matches!(self, Case::DatesOldestNext);
                next_page_of_window(conn, user, &mut f, rng, dates)?;
            }
            Case::Oldest => f.oldest_first = true,
            Case::KindStatusModel => {
                // A model that makes this type, as the new-generation form offers them.
                let k = rng.gen_range(0..KINDS.len());
                let list = [T2I_MODELS, I2I_MODELS, T2V_MODELS, I2V_MODELS][k];
                let (p, m, _) = list[rng.gen_range(0..list.len())];
                f.kind = Some(KINDS[k].to_string());
                f.status = Some("completed".into());
                f.provider = Some(p.to_string());
                f.model = Some(m.to_string());
            }
            Case::NoMatch => {
                // Nothing matches, so the whole of the user's results is looked at.
                let (k, p, m) = [
                    ("t2v", "openai", "gpt-image-1"),
                    ("i2v", "openai", "gpt-image-1"),
                    ("t2i", "wan", "wan2.2-t2v-plus"),
                    ("i2i", "wan", "wan2.2-kf2v-flash"),
                ][rng.gen_range(0..4)];
                f.kind = Some(k.to_string());
                f.provider = Some(p.to_string());
                f.model = Some(m.to_string());
            }
            Case::FavoriteTagDates => {
                f.favorite = Some(true);
                f.tag = Some(tag(rng));
                dates(&mut f, rng);
            }
            Case::UnfiledStatusOldest => {
                f.folder = Some(None);
                f.status = Some(status(rng));
                f.oldest_first = true;
            }
            Case::Deep => f.after = deep(rng),
            Case::DeepOldest => {
                f.after = deep(rng);
                f.oldest_first = true;
            }
            Case::DeepKindStatus => {
                f.after = deep(rng);
                f.kind = Some(kind(rng));
                f.status = Some("completed".into());
            }
            Case::DeepUnfiled => {
                f.after = deep(rng);
                f.folder = Some(None);
            }
        }
        Ok(f)
    }
}

/// Turns `f` into the second page of a date window as the service asks for it: the keyset
/// is the (created_at, id) of the first page's last shown row. A window without a second page
/// is drawn again, up to 20 times. The second page must be the rows that follow the first.
fn next_page_of_window(
    conn: &mut DbConn,
    user: i64,
    f: &mut Filter,
    rng: &mut StdRng,
    dates: impl Fn(&mut Filter, &mut StdRng),
) -> anyhow::Result<()> {
    let page = PAGE_SIZE as usize;
    let mut two_pages = Vec::new();
    for _ in 0..20 {
        dates(f, rng);
        two_pages = store::list(conn, user, f, 2 * PAGE_SIZE + 1)?;
        if two_pages.len() > page {
            break;
        }
    }
    let last = two_pages.get(page - 1).or(two_pages.last());
    f.after = last.map(|g| (g.created_at, g.id));
    let ids = |rows: &[Generation]| rows.iter().map(|g| g.id).collect::<Vec<_>>();
    let next = store::list(conn, user, f, LIMIT)?;
    ensure!(
        ids(&next) == ids(two_pages.get(page..).unwrap_or_default()),
        "user {user}: the next page of a date range does not continue the first page"
    );
    Ok(())
}

/// Times of one measured series, in ms, with how many rows the calls returned.
struct Series {
    ms: Vec<f64>,
    rows: usize,
    /// Calls that failed, and the first error: a failing query is a finding, not a crash.
    errors: usize,
    first_error: Option<String>,
    /// The slowest call of `store::list`: its time and its user and filter, to rerun by hand.
    slowest: (f64, String),
}

impl Series {
    fn p(&self, q: f64) -> f64 {
        percentile(&self.ms, q)
    }

    fn new(ms: Vec<f64>) -> Series {
        Series {
            ms,
            rows: 0,
            errors: 0,
            first_error: None,
            slowest: (0.0, String::new()),
        }
    }

    fn describe(&self) -> String {
        let times = format!(
            "p50 {:.2} / p99 {:.2} ms (max {:.2})",
            self.p(0.50),
            self.p(0.99),
            self.p(1.0)
        );
        let calls = self.errors + self.ms.len();
        match &self.first_error {
            Some(e) if self.ms.is_empty() => format!("all {calls} calls FAILED: {e}"),
            Some(e) => format!("{} of {calls} calls FAILED: {e}; {times}", self.errors),
            None => times,
        }
    }

    /// The p99, or infinity when any call failed.
    fn p99_or_failed(&self) -> f64 {
        if self.errors > 0 {
            f64::INFINITY
        } else {
            self.p(0.99)
        }
    }
}

/// Times `n` calls of `store::list`; `next` picks the user and filter of each, off the clock.
fn time_list(
    conn: &mut DbConn,
    n: usize,
    mut next: impl FnMut(&mut DbConn) -> anyhow::Result<(i64, Filter)>,
) -> anyhow::Result<Series> {
    let mut s = Series::new(Vec::with_capacity(n));
    for _ in 0..n {
        check_stop()?;
        let (user, filter) = next(conn)?;
        let started = Instant::now();
        match store::list(conn, user, &filter, LIMIT) {
            Ok(page) => {
                let ms = started.elapsed().as_secs_f64() * 1000.0;
                s.rows += std::hint::black_box(page).len();
                if ms > s.slowest.0 {
                    s.slowest = (ms, format!("user {user}, {filter:?}"));
                }
                s.ms.push(ms);
            }
            Err(e) => {
                s.errors += 1;
                s.first_error
                    .get_or_insert_with(|| truncate(&e.to_string(), 100).to_string());
            }
        }
    }
    Ok(s)
}

fn lists(
    conn: &mut DbConn,
    data: &Data,
    args: &Args,
    rng: &mut StdRng,
    out: &mut Vec<Row>,
) -> anyhow::Result<()> {
    let n = args.queries;
    let heavy = data.live_of(HEAVY_USER).len();
    println!(
        "\n== store::list, limit {LIMIT}: {n} calls per case, users at random (1..={}), then the heavy user ({heavy} live results, {} folders)",
        data.users,
        data.folders_of(HEAVY_USER).len()
    );
    // Warm-up, not counted: one pass over every case.
    for case in CASES {
        time_list(conn, 5, |conn| {
            let user = rng.gen_range(1..=data.users as i64);
            Ok((user, case.filter(conn, user, data, rng)?))
        })?;
    }
    let mut worst: (f64, String) = (0.0, String::new());
    for (who, fixed) in [("random users", None), ("heavy user", Some(HEAVY_USER))] {
        println!("-- {who}");
        for case in CASES {
            let s = time_list(conn, n, |conn| {
                let user = fixed.unwrap_or_else(|| rng.gen_range(1..=data.users as i64));
                Ok((user, case.filter(conn, user, data, rng)?))
            })?;
            let rows_per_call = s.rows as f64 / s.ms.len().max(1) as f64;
            println!(
                "{:42} {}  rows/page {rows_per_call:.1}",
                case.name(),
                s.describe()
            );
            if s.slowest.0 > TARGET_LIST_P99_MS {
                println!("   slowest call, {:.2} ms: {}", s.slowest.0, s.slowest.1);
            }
            let p99 = s.p99_or_failed();
            if p99 > worst.0 {
                worst = (p99, format!("{}, {who}", case.name()));
            }
            out.push(Row::check(
                format!("list: {}, {who}", case.name()),
                format!("{} [{rows_per_call:.0} rows]", s.describe()),
                format!("p99 <= {TARGET_LIST_P99_MS} ms"),
                p99 <= TARGET_LIST_P99_MS,
            ));
        }
    }
    out.push(Row::check(
        "list: worst p99 of all cases".into(),
        format!("{:.2} ms ({})", worst.0, worst.1),
        format!("<= {TARGET_LIST_P99_MS} ms"),
        worst.0 <= TARGET_LIST_P99_MS,
    ));
    Ok(())
}

fn keywords(conn: &mut DbConn, data: &Data, args: &Args, out: &mut Vec<Row>) -> anyhow::Result<()> {
    let n = args.queries;
    for (user, prompts, targeted) in [
        (KEYWORD_USER, &data.keyword_prompts, true),
        (HEAVY_USER, &data.heavy_prompts, false),
    ] {
        let owned = data.live_of(user).len();
        println!(
            "\n== keyword search, first page: user {user} with {owned} live results, {n} calls per keyword{}",
            if targeted { "" } else { " (the heaviest user; no target)" }
        );
        let mut worst: f64 = 0.0;
        for k in KEYWORDS {
            let needle = k.to_lowercase();
            let hits = prompts
                .iter()
                .filter(|p| p.to_lowercase().contains(&needle))
                .count();
            let s = time_list(conn, n, |_| {
                let keyword = Some((*k).to_string());
                Ok((
                    user,
                    Filter {
                        keyword,
                        ..Default::default()
                    },
                ))
            })?;
            println!("{:16} {hits:6} hits  {}", format!("'{k}'"), s.describe());
            worst = worst.max(s.p99_or_failed());
            let metric = format!("keyword '{k}', {owned} results, {hits} hits");
            out.push(if targeted {
                Row::check(
                    metric,
                    s.describe(),
                    format!("p99 <= {TARGET_KEYWORD_P99_MS} ms"),
                    s.p99_or_failed() <= TARGET_KEYWORD_P99_MS,
                )
            } else {
                Row::info(metric, s.describe())
            });
        }
        if targeted {
            out.push(Row::check(
                format!("keyword: worst p99, {owned} results"),
                format!("{worst:.2} ms"),
                format!("<= {TARGET_KEYWORD_P99_MS} ms"),
                worst <= TARGET_KEYWORD_P99_MS,
            ));
        }
    }
    Ok(())
}

fn tree(
    conn: &mut DbConn,
    data: &Data,
    args: &Args,
    url: &str,
    dir: &tempfile::TempDir,
    out: &mut Vec<Row>,
) -> anyhow::Result<()> {
    let n = args.queries;
    let folders = data.folders_of(HEAVY_USER).len();
    println!(
        "\n== folder tree of user {HEAVY_USER}: {folders} folders ({} file nodes in all users' folders), {n} calls",
        data.file_nodes
    );
    let mut ms = Vec::with_capacity(n);
    let mut parts = (Vec::with_capacity(n), Vec::with_capacity(n));
    for _ in 0..n + 5 {
        check_stop()?;
        let started = Instant::now();
        let nodes = store::folders(conn, HEAVY_USER)?;
        let between = Instant::now();
        let counts = store::folder_counts(conn, HEAVY_USER)?;
        let done = Instant::now();
        std::hint::black_box((nodes, counts));
        ms.push((done - started).as_secs_f64() * 1000.0);
        parts.0.push((between - started).as_secs_f64() * 1000.0);
        parts.1.push((done - between).as_secs_f64() * 1000.0);
    }
    // The first 5 were warm-up.
    let series = Series::new(ms.split_off(5));
    let folders_only = parts.0.split_off(5);
    let counts_only = parts.1.split_off(5);
    println!("folders + folder_counts   {}", series.describe());
    println!(
        "   store::folders p50 {:.2} ms, store::folder_counts p50 {:.2} ms",
        percentile(&folders_only, 0.5),
        percentile(&counts_only, 0.5)
    );
    out.push(Row::check(
        format!("tree: store::folders + folder_counts, {folders} folders"),
        series.describe(),
        format!("p99 <= {TARGET_TREE_MS} ms"),
        series.p(0.99) <= TARGET_TREE_MS,
    ));
    out.push(Row::info(
        "  store::folders / store::folder_counts, p50".into(),
        format!(
            "{:.2} / {:.2} ms",
            percentile(&folders_only, 0.5),
            percentile(&counts_only, 0.5)
        ),
    ));

    // The list as the service and the page serve it, through an AppState on the same database.
    match service_list(url, dir, n) {
        Ok(cases) => {
            for (case, series) in cases {
                println!("{case:<45} {}", series.describe());
                out.push(Row::check(
                    format!("list: {case}"),
                    series.describe(),
                    format!("p99 <= {TARGET_LIST_P99_MS} ms"),
                    series.p(0.99) <= TARGET_LIST_P99_MS,
                ));
            }
        }
        Err(e) => {
            println!("service::list not measured: {e:#}");
            out.push(Row::info(
                "list: service::list and GET /library".into(),
                format!("not measured: {e:#}"),
            ));
        }
    }

    // The whole service::tree, through an AppState on the same database.
    let whole = service_tree(url, dir, n);
    match whole {
        Ok((series, roots)) => {
            println!(
                "service::tree ({roots} top-level folders)   {}",
                series.describe()
            );
            out.push(Row::check(
                format!("tree: whole service::tree, {folders} folders"),
                series.describe(),
                format!("p99 <= {TARGET_TREE_MS} ms"),
                series.p(0.99) <= TARGET_TREE_MS,
            ));
        }
        Err(e) => {
            println!("service::tree not measured: {e:#}");
            out.push(Row::info(
                "tree: whole service::tree".into(),
                format!("not measured: {e:#}"),
            ));
        }
    }
    Ok(())
}

/// The app on the benchmark's database, and the heavy user as the services see it.
fn app_state(url: &str, dir: &tempfile::TempDir) -> anyhow::Result<(AppState, User)> {
    let mut config = Config {
        data_dir: Some(dir.path().join("app")),
        ..Config::default()
    };
    config.database.url = url.to_string();
    config.database.pool_size = 2;
    let state = AppState::new(config, Some(Mailer::memory().0))?;
    let user: User = {
        let mut conn = state.db.get()?;
        users::table
            .find(HEAVY_USER)
            .select(User::as_select())
            .first(&mut *conn)?
    };
    Ok((state, user))
}

/// Wall times of `n` calls of `call` after 5 warm-up calls, in ms.
fn timed<T>(n: usize, mut call: impl FnMut() -> anyhow::Result<T>) -> anyhow::Result<Series> {
    let mut ms = Vec::with_capacity(n);
    for i in 0..n + 5 {
        check_stop()?;
        let started = Instant::now();
        std::hint::black_box(call()?);
        if i >= 5 {
            ms.push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    Ok(Series::new(ms))
}

/// What a person waits for, not only the query: `service::list` as the API runs it (filter
/// resolution, the query, the views) for the heavy user, and one real `GET /library` page
/// through the HTTP server (session check, the first page, Tera), over loopback.
fn service_list(
    url: &str,
    dir: &tempfile::TempDir,
    n: usize,
) -> anyhow::Result<Vec<(String, Series)>> {
    use picturedeck::i18n::Lang;
    use picturedeck::library::{model::ListQuery, service};
    let (state, user) = app_state(url, dir)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let list = |q: &ListQuery| rt.block_on(service::list(&state, &user, q, Lang::Zh));
    let first = list(&ListQuery::default())?;
    let query = |f: fn(&mut ListQuery)| {
        let mut q = ListQuery::default();
        f(&mut q);
        q
    };
    let cases = [
        ("no filter", ListQuery::default()),
        ("type", query(|q| q.kind = Some("t2i".into()))),
        ("status", query(|q| q.status = Some("failed".into()))),
        ("favourites", query(|q| q.favorite = Some(true))),
        (
            "next page",
            ListQuery {
                before: first.next.clone(),
                ..ListQuery::default()
            },
        ),
    ];
    let mut out = Vec::new();
    for (name, q) in cases {
        let series = timed(n, || Ok(list(&q)?))?;
        out.push((format!("service::list, heavy user, {name}"), series));
    }

    let state = std::sync::Arc::new(state);
    let origin = picturedeck::users::service::Origin {
        ip: "127.0.0.1".into(),
        user_agent: Some("library_bench".into()),
    };
    let token = rt
        .block_on(picturedeck::users::service::issue(&state, &user, &origin))
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .token;
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let page = format!("http://{}/library", listener.local_addr()?);
    let server = rt.block_on(async { picturedeck::app::server(state.clone(), listener) })?;
    let handle = server.handle();
    rt.spawn(server);
    let client = reqwest::Client::new();
    let series = timed(n, || {
        rt.block_on(async {
            let res = client
                .get(&page)
                .header("cookie", format!("pd_session={token}"))
                .send()
                .await?;
            ensure!(res.status().is_success(), "GET /library: {}", res.status());
            Ok(res.text().await?)
        })
    });
    rt.block_on(handle.stop(true));
    out.push(("GET /library page, heavy user".into(), series?));
    Ok(out)
}

fn service_tree(url: &str, dir: &tempfile::TempDir, n: usize) -> anyhow::Result<(Series, usize)> {
    let (state, user) = app_state(url, dir)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut ms = Vec::with_capacity(n);
    let mut roots = 0;
    for i in 0..n + 5 {
        check_stop()?;
        let started = Instant::now();
        let tree = rt.block_on(picturedeck::library::service::tree(&state, &user))?;
        let took = started.elapsed().as_secs_f64() * 1000.0;
        roots = tree.len();
        std::hint::black_box(tree);
        if i >= 5 {
            ms.push(took);
        }
    }
    Ok((Series::new(ms), roots))
}

/// Nearest rank: the smallest value with at least q of all values at or below it.
fn percentile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}
