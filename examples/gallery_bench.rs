//! Public gallery benchmark (issue 12 item 6): a million published works, the first page and
//! every filter, pages at any depth, and keyword search in English and Chinese, timed through
//! `gallery::service::list` (what `GET /api/v1/gallery/works` and the `/gallery` page run).
//!
//!   cargo run --release --example gallery_bench -- --backend sqlite
//!   cargo run --release --example gallery_bench -- --backend postgres
//!   cargo run --release --example gallery_bench -- --works 100000 --queries 50
//!   cargo run --release --example gallery_bench -- --serve 60    # then: wrk -c 200 URL
//!
//! A fresh database (a temp SQLite file, or a fresh schema on PostgreSQL) is migrated and filled
//! with raw multi-row INSERTs from one seeded RNG: users (some banned), one completed result per
//! work (some deleted), the works (some taken down, some published again later, so the newest
//! order is not the id order), their keyword index rows as `search::index_work` writes them,
//! tags, and the last week's likes. After ANALYZE each case is `--queries` calls after 5
//! warm-up calls. `--serve N` then serves the instance to visitors on a loopback port for N
//! seconds, for `wrk`. A measurement, not a test: it exits 0 when a target is missed.

mod common;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::{NaiveDateTime, Utc};
use clap::Parser;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use picturedeck::app::AppState;
use picturedeck::config::Config;
use picturedeck::db::{Db, DbConn};
use picturedeck::gallery::model::GalleryQuery;
use picturedeck::gallery::service::{self, Scope};
use picturedeck::mail::Mailer;
use rand::distributions::{Distribution, WeightedIndex};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use common::{print_header, print_table, Backend, PgSchema, Row, PG_ADMIN_URL};

const ROWS_PER_INSERT: usize = 1000;
const INSERTS_PER_TX: usize = 50;
/// Works are published over this many days up to now (the week's likes need a real "now").
const DAYS: i64 = 90;

// Targets from the issue.
const TARGET_LIST_P99_MS: f64 = 20.0;
const TARGET_SEARCH_P99_MS: f64 = 50.0;
/// A case stops after this long (with at least 10 calls timed).
const CASE_BUDGET: Duration = Duration::from_secs(20);

#[derive(Debug, Parser)]
#[command(about = "Benchmarks the public gallery on a million works")]
struct Args {
    #[arg(long, value_enum, default_value = "sqlite")]
    backend: Backend,
    #[arg(long, default_value_t = 10_000)]
    users: usize,
    #[arg(long, default_value_t = 1_000_000)]
    works: usize,
    /// Timed calls per case.
    #[arg(long, default_value_t = 200)]
    queries: usize,
    #[arg(long, default_value_t = 20_261_201)]
    seed: u64,
    #[arg(long, default_value = PG_ADMIN_URL)]
    pg_url: String,
    /// Leave the database in place and print where it is.
    #[arg(long)]
    keep: bool,
    /// After the cases, serve the gallery to visitors on a loopback port for this many seconds.
    #[arg(long, default_value_t = 0)]
    serve: u64,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let args = Args::parse();
    print_header(
        "gallery benchmark",
        &format!(
            "{:?}, {} works, {} users, {} calls per case, seed {}",
            args.backend, args.works, args.users, args.queries, args.seed
        ),
    );
    let rows = run(&args)?;
    print_table(&rows);
    Ok(())
}

fn run(args: &Args) -> anyhow::Result<Vec<Row>> {
    let schema = match args.backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(PgSchema::create(&args.pg_url, "galbench", args.keep)?),
    };
    let dir = tempfile::tempdir().context("cannot create a temp dir")?;
    let db_path = dir.path().join("gallery.db");
    let url = match &schema {
        Some(s) => s.url(),
        None => format!("sqlite:{}", db_path.display()),
    };
    let mut rows = Vec::new();
    let data = {
        let db = Db::connect(&url, 1)?;
        let mut conn = db.get()?;
        let mut rng = StdRng::seed_from_u64(args.seed);
        let data = fill(&mut conn, args, &mut rng, &mut rows)?;
        let started = Instant::now();
        match args.backend {
            Backend::Postgres => conn.batch_execute("VACUUM (ANALYZE)")?,
            Backend::Sqlite => conn.batch_execute("ANALYZE")?,
        }
        rows.push(Row::info(
            "ANALYZE (PostgreSQL: VACUUM (ANALYZE))".into(),
            format!("{:.1} s", started.elapsed().as_secs_f64()),
        ));
        data
    };

    let mut config = Config {
        data_dir: Some(dir.path().join("app")),
        ..Config::default()
    };
    config.database.url = url.clone();
    config.gallery.anonymous = Some(true);
    let state = std::sync::Arc::new(AppState::new(config, Some(Mailer::memory().0))?);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    cases(&rt, &state, &data, args, &mut rows)?;

    if args.serve > 0 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let server = rt.block_on(async { picturedeck::app::server(state.clone(), listener) })?;
        let handle = server.handle();
        rt.spawn(server);
        println!(
            "\n== serving visitors at http://{addr}/gallery for {} s",
            args.serve
        );
        std::thread::sleep(Duration::from_secs(args.serve));
        rt.block_on(handle.stop(true));
    }
    if args.keep {
        match &schema {
            Some(s) => println!("\nkept: {}", s.url()),
            None => println!("\nkept: {}", dir.keep().join("gallery.db").display()),
        }
    }
    Ok(rows)
}

// --- the data ------------------------------------------------------------------------------

type Words = &'static [(&'static str, u32)];

const SUBJECTS: Words = &[
    ("cat", 30),
    ("girl", 24),
    ("dog", 20),
    ("robot", 16),
    ("dragon", 14),
    ("castle", 12),
    ("lighthouse", 8),
    ("fox", 6),
    ("teapot", 3),
    ("axolotl", 1),
    ("猫", 30),
    ("少女", 24),
    ("机器人", 16),
    ("龙", 14),
    ("灯塔", 8),
    ("狐狸", 6),
    ("熊猫", 6),
    ("青花瓷瓶", 2),
    ("兵马俑", 1),
];
const PLACES: Words = &[
    ("in a forest", 20),
    ("on the beach", 16),
    ("in a neon city", 14),
    ("in space", 10),
    ("on Mars", 2),
    ("森林里", 20),
    ("海边", 16),
    ("城市夜景", 14),
    ("雪山之巅", 10),
    ("敦煌石窟", 1),
];
const STYLES: Words = &[
    ("photorealistic", 24),
    ("anime style", 20),
    ("watercolor", 14),
    ("golden hour", 12),
    ("pixel art", 6),
    ("写实摄影", 24),
    ("动漫风格", 20),
    ("水彩", 14),
    ("水墨画", 8),
    ("工笔画", 2),
];
const TAGS: Words = &[
    ("精选", 20),
    ("wallpaper", 14),
    ("风景", 12),
    ("人像", 10),
    ("头像", 7),
    ("海报", 6),
    ("concept", 5),
    ("壁纸", 5),
    ("春节", 2),
    ("水墨", 1),
];
/// (kind, provider, model, weight)
const MODELS: &[(&str, &str, &str, u32)] = &[
    ("t2i", "local", "procedural", 20),
    ("t2i", "openai", "gpt-image-1", 30),
    ("t2i", "wan", "wan2.2-t2i-flash", 15),
    ("i2i", "openai", "gpt-image-1", 10),
    ("i2i", "wan", "wan2.5-i2i-preview", 8),
    ("t2v", "wan", "wan2.2-t2v-plus", 10),
    ("i2v", "wan", "wan2.2-kf2v-flash", 6),
    ("i2v", "local", "procedural", 1),
];

fn pick(words: Words, w: &WeightedIndex<u32>, rng: &mut StdRng) -> &'static str {
    words[w.sample(rng)].0
}

/// What the cases need of the fill: random visible works for cursors.
struct Data {
    /// (published_at, like_count, uuid) of visible works.
    visible: Vec<(NaiveDateTime, i64, String)>,
}

struct Bulk {
    head: String,
    sql: String,
    in_sql: usize,
    pending: Vec<String>,
    rows: usize,
}

impl Bulk {
    fn new(table: &str, columns: &str) -> Bulk {
        let head = format!("INSERT INTO {table} ({columns}) VALUES ");
        Bulk {
            sql: head.clone(),
            head,
            in_sql: 0,
            pending: Vec::new(),
            rows: 0,
        }
    }

    /// One row of already SQL-quoted values.
    fn push(&mut self, conn: &mut DbConn, values: &str) -> anyhow::Result<()> {
        if self.in_sql > 0 {
            self.sql.push(',');
        }
        let _ = write!(self.sql, "({values})");
        self.in_sql += 1;
        self.rows += 1;
        if self.in_sql == ROWS_PER_INSERT {
            self.cut();
            if self.pending.len() == INSERTS_PER_TX {
                self.run(conn)?;
            }
        }
        Ok(())
    }

    fn cut(&mut self) {
        if self.in_sql > 0 {
            self.pending
                .push(std::mem::replace(&mut self.sql, self.head.clone()));
            self.in_sql = 0;
        }
    }

    fn run(&mut self, conn: &mut DbConn) -> anyhow::Result<()> {
        let statements = std::mem::take(&mut self.pending);
        conn.transaction::<_, diesel::result::Error, _>(|conn| {
            for sql in &statements {
                conn.batch_execute(sql)?;
            }
            Ok(())
        })
        .with_context(|| format!("bulk insert failed: {}", self.head))
    }

    fn finish(mut self, conn: &mut DbConn) -> anyhow::Result<usize> {
        self.cut();
        if !self.pending.is_empty() {
            self.run(conn)?;
        }
        Ok(self.rows)
    }
}

fn q(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn ts(t: NaiveDateTime) -> String {
    format!("'{}'", t.format("%F %T%.f"))
}

fn uuid(rng: &mut StdRng) -> String {
    uuid::Builder::from_random_bytes(rng.gen())
        .into_uuid()
        .to_string()
}

fn fill(
    conn: &mut DbConn,
    args: &Args,
    rng: &mut StdRng,
    rows: &mut Vec<Row>,
) -> anyhow::Result<Data> {
    if args.backend == Backend::Sqlite {
        conn.batch_execute("PRAGMA synchronous = OFF; PRAGMA cache_size = -262144;")?;
    }
    let fill_started = Instant::now();
    let now = Utc::now().naive_utc();
    let start = now - chrono::Duration::days(DAYS);
    println!("\n== fill: {} users, {} works", args.users, args.works);

    let mut bulk = Bulk::new(
        "users",
        "uuid, username, email, password_hash, role, status, token_version, created_at, updated_at",
    );
    // Index 0 is no user: ids start at 1.
    let banned: Vec<bool> = (0..=args.users)
        .map(|u| u > 0 && rng.gen_bool(0.005))
        .collect();
    for (u, &banned_user) in banned.iter().enumerate().skip(1) {
        let values = format!(
            "{}, {}, {}, {}, 'user', {}, 0, {}, {}",
            q(&uuid(rng)),
            q(&format!("user{u}")),
            q(&format!("user{u}@bench.example")),
            q("$argon2id$v=19$m=19456,t=2,p=1$bench$bench"),
            q(if banned_user { "banned" } else { "active" }),
            ts(start),
            ts(start)
        );
        bulk.push(conn, &values)?;
    }
    bulk.finish(conn)?;

    let subjects = WeightedIndex::new(SUBJECTS.iter().map(|w| w.1))?;
    let places = WeightedIndex::new(PLACES.iter().map(|w| w.1))?;
    let styles = WeightedIndex::new(STYLES.iter().map(|w| w.1))?;
    let tags = WeightedIndex::new(TAGS.iter().map(|w| w.1))?;
    let models = WeightedIndex::new(MODELS.iter().map(|m| m.3))?;

    let started = Instant::now();
    let mut results = Bulk::new(
        "generations",
        "uuid, user_id, status, generation_type, prompt, parameters, provider, model, attempts, \
         next_attempt_at, progress, result_mime, width, height, created_at, completed_at, \
         updated_at, deleted_at",
    );
    let mut works = Bulk::new(
        "publications",
        "uuid, generation_id, user_id, title, description, hide_prompt, search_text, like_count, \
         favorite_count, published_at, unpublished_at, updated_at, generation_type, provider, model",
    );
    let mut index = Vec::with_capacity(args.works);
    let mut tag_rows = Vec::new();
    let mut recent = Vec::new();
    let mut visible = Vec::new();
    let span_ms = DAYS * 86_400_000;
    for i in 0..args.works {
        let id = i as i64 + 1;
        let user = rng.gen_range(1..=args.users);
        let (kind, provider, model, _) = MODELS[models.sample(rng)];
        let subject = pick(SUBJECTS, &subjects, rng);
        let place = pick(PLACES, &places, rng);
        let style = pick(STYLES, &styles, rng);
        let prompt = format!("a {subject} {place}, {style}");
        let title = format!("{subject} {style}");
        let mut my_tags: Vec<&str> = (0..rng.gen_range(0..=3))
            .map(|_| pick(TAGS, &tags, rng))
            .collect();
        my_tags.sort_unstable();
        my_tags.dedup();
        let hide = rng.gen_bool(0.05);
        let mut text = format!("{title}\n\n{}", my_tags.join(" "));
        if !hide {
            text.push('\n');
            text.push_str(&prompt);
        }
        let text = text.to_lowercase();
        let created =
            start + chrono::Duration::milliseconds(span_ms * i as i64 / args.works as i64);
        // 1 % were unpublished and published again later: the newest order is not the id order.
        let published = if rng.gen_bool(0.01) {
            created
                + chrono::Duration::milliseconds(
                    rng.gen_range(0..(now - created).num_milliseconds().max(1)),
                )
        } else {
            created + chrono::Duration::seconds(30)
        };
        let deleted = rng.gen_bool(0.01);
        let down = rng.gen_bool(0.01);
        // A few works get most likes.
        let likes: i64 = if rng.gen_bool(0.01) {
            rng.gen_range(100..5000)
        } else {
            rng.gen_range(0..8)
        };
        let (w, h) = if kind.ends_with('v') {
            (1280, 720)
        } else {
            (1024, 1024)
        };
        let gen_uuid = uuid(rng);
        results.push(
            conn,
            &format!(
                "{}, {user}, 'completed', '{kind}', {}, '{{\"seed\":1}}', '{provider}', '{model}', 1, \
                 {}, 100, '{}', {w}, {h}, {}, {}, {}, {}",
                q(&gen_uuid),
                q(&prompt),
                ts(created),
                if kind.ends_with('v') { "video/mp4" } else { "image/png" },
                ts(created),
                ts(created),
                ts(created),
                if deleted { ts(created) } else { "NULL".into() }
            ),
        )?;
        let work_uuid = uuid(rng);
        works.push(
            conn,
            &format!(
                "{}, {id}, {user}, {}, '', {}, {}, {likes}, {}, {}, {}, {}, '{kind}', '{provider}', \
                 '{model}'",
                q(&work_uuid),
                q(&title),
                i32::from(hide),
                q(&text),
                likes / 3,
                ts(published),
                if down { ts(published) } else { "NULL".into() },
                ts(published)
            ),
        )?;
        index.push((id, picturedeck::search::terms(&text, None)));
        for t in my_tags {
            tag_rows.push((id, t));
        }
        if now - published < chrono::Duration::days(7) && likes > 0 {
            recent.push((id, likes.min(50), published));
        }
        if !deleted && !down && !banned[user] {
            visible.push((published, likes, work_uuid));
        }
        if i % 200_000 == 199_999 {
            println!(
                "   {} works, {:.0} s",
                i + 1,
                started.elapsed().as_secs_f64()
            );
        }
    }
    let n = results.finish(conn)?;
    works.finish(conn)?;
    rows.push(Row::info(
        "fill: works (results + publications)".into(),
        format!("{n} in {:.1} s", started.elapsed().as_secs_f64()),
    ));

    let started = Instant::now();
    let mut bulk = Bulk::new("publication_search", "publication_id, terms");
    for (id, terms) in index {
        bulk.push(conn, &format!("{id}, {}", q(&terms)))?;
    }
    let n = bulk.finish(conn)?;
    rows.push(Row::info(
        "fill: keyword index".into(),
        format!("{n} in {:.1} s", started.elapsed().as_secs_f64()),
    ));

    let started = Instant::now();
    let mut bulk = Bulk::new("publication_tags", "publication_id, tag");
    for (id, tag) in tag_rows {
        bulk.push(conn, &format!("{id}, {}", q(tag)))?;
    }
    let n_tags = bulk.finish(conn)?;
    let mut bulk = Bulk::new("likes", "publication_id, user_id, created_at");
    for (id, n, published) in recent {
        let first = rng.gen_range(1..=args.users);
        for k in 0..n as usize {
            let user = (first + k) % args.users + 1;
            let at = published + chrono::Duration::seconds(rng.gen_range(1..3600));
            bulk.push(conn, &format!("{id}, {user}, {}", ts(at.min(now))))?;
        }
    }
    let n_likes = bulk.finish(conn)?;
    rows.push(Row::info(
        "fill: tags, likes of the last week".into(),
        format!(
            "{n_tags} / {n_likes} in {:.1} s",
            started.elapsed().as_secs_f64()
        ),
    ));
    // What the hourly pass does in the server; timed, since it runs beside live traffic.
    let started = Instant::now();
    let set =
        picturedeck::gallery::store::recount_week_likes(conn, now - chrono::Duration::days(7))?;
    rows.push(Row::info(
        "hourly pass: week figures recounted".into(),
        format!("{set} works in {:.2} s", started.elapsed().as_secs_f64()),
    ));
    rows.push(Row::info(
        "fill in all".into(),
        format!(
            "{:.1} s, {} visible works",
            fill_started.elapsed().as_secs_f64(),
            visible.len()
        ),
    ));
    Ok(Data { visible })
}

// --- the cases ------------------------------------------------------------------------------

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn gq(f: impl FnOnce(&mut GalleryQuery)) -> GalleryQuery {
    let mut q = GalleryQuery::default();
    f(&mut q);
    q
}

fn cases(
    rt: &tokio::runtime::Runtime,
    state: &AppState,
    data: &Data,
    args: &Args,
    rows: &mut Vec<Row>,
) -> anyhow::Result<()> {
    let mut rng = StdRng::seed_from_u64(args.seed + 1);
    let list = |q: &GalleryQuery| rt.block_on(service::list(state, None, Scope::Everyone, q));
    // (name, is a keyword search, a fresh query per call)
    type Make<'a> = Box<dyn FnMut(&mut StdRng) -> GalleryQuery + 'a>;
    let fixed = |q: GalleryQuery| -> Make<'_> { Box::new(move |_| q.clone()) };
    let newest_cursor = |rng: &mut StdRng| {
        let (at, _, id) = &data.visible[rng.gen_range(0..data.visible.len())];
        format!("n.{}.{id}", at.and_utc().timestamp_micros())
    };
    let top_cursor = |rng: &mut StdRng| {
        let (_, likes, id) = &data.visible[rng.gen_range(0..data.visible.len())];
        format!("s.{likes}.{id}")
    };
    let mut all: Vec<(String, bool, Make<'_>)> = vec![
        (
            "first page, newest".into(),
            false,
            fixed(GalleryQuery::default()),
        ),
        (
            "next page, newest, random depth".into(),
            false,
            Box::new(move |rng| gq(|q| q.cursor = Some(newest_cursor(rng)))),
        ),
        (
            "first page, most liked".into(),
            false,
            fixed(gq(|q| q.sort = Some("top".into()))),
        ),
        (
            "next page, most liked, random depth".into(),
            false,
            Box::new(move |rng| {
                gq(|q| {
                    q.sort = Some("top".into());
                    q.cursor = Some(top_cursor(rng));
                })
            }),
        ),
        (
            "first page, most liked this week".into(),
            false,
            fixed(gq(|q| q.sort = Some("week".into()))),
        ),
        (
            "type t2v".into(),
            false,
            fixed(gq(|q| q.kind = Some("t2v".into()))),
        ),
        (
            "model local/procedural (i2v rare)".into(),
            false,
            fixed(gq(|q| {
                q.kind = Some("i2v".into());
                q.model = Some("local/procedural".into());
            })),
        ),
        (
            "model wan/wan2.5-i2i-preview".into(),
            false,
            fixed(gq(|q| q.model = Some("wan/wan2.5-i2i-preview".into()))),
        ),
        (
            "tag 精选 (common)".into(),
            false,
            fixed(gq(|q| q.tag = Some("精选".into()))),
        ),
        (
            "tag 水墨 (rare)".into(),
            false,
            fixed(gq(|q| q.tag = Some("水墨".into()))),
        ),
        (
            "tag 水墨 + type t2v".into(),
            false,
            fixed(gq(|q| {
                q.tag = Some("水墨".into());
                q.kind = Some("t2v".into());
            })),
        ),
        (
            "tag that no work has".into(),
            false,
            fixed(gq(|q| q.tag = Some("no-such-tag".into()))),
        ),
    ];
    for k in [
        "cat",
        "lighthouse",
        "golden hour",
        "axolotl",
        "猫",
        "狐",
        "狐狸",
        "水墨画",
        "敦煌",
        "兵马俑",
        "no-such-word",
    ] {
        all.push((
            format!("search {k}"),
            true,
            fixed(gq(|q| q.q = Some(k.into()))),
        ));
    }
    all.push((
        "search cat + type t2v".into(),
        true,
        fixed(gq(|q| {
            q.q = Some("cat".into());
            q.kind = Some("t2v".into());
        })),
    ));
    all.push((
        "search 狐狸, most liked".into(),
        true,
        fixed(gq(|q| {
            q.q = Some("狐狸".into());
            q.sort = Some("top".into());
        })),
    ));

    println!(
        "\n== service::list, {} calls per case after 5 warm-up calls",
        args.queries
    );
    let (mut worst_list, mut worst_search) = (0.0f64, 0.0f64);
    for (name, search, mut make) in all {
        let mut ms = Vec::with_capacity(args.queries);
        let mut shown = 0;
        let case_started = Instant::now();
        for i in 0..args.queries + 5 {
            // A case that cannot keep up is cut short: its figure is already a miss.
            if case_started.elapsed() > CASE_BUDGET && ms.len() >= 10 {
                break;
            }
            let query = make(&mut rng);
            let started = Instant::now();
            let page = list(&query).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
            let took = started.elapsed().as_secs_f64() * 1000.0;
            if i >= 5 {
                ms.push(took);
                shown += page.works.len();
            }
        }
        ms.sort_by(f64::total_cmp);
        let (p50, p99) = (percentile(&ms, 0.5), percentile(&ms, 0.99));
        println!(
            "{name:42} p50 {p50:7.2}  p99 {p99:7.2}  max {:7.2} ms   cards/page {:.1}",
            percentile(&ms, 1.0),
            shown as f64 / ms.len().max(1) as f64
        );
        if search {
            worst_search = worst_search.max(p99);
        } else {
            worst_list = worst_list.max(p99);
        }
        rows.push(Row::info(
            name,
            format!("p50 {p50:.2} / p99 {p99:.2} ms ({} calls)", ms.len()),
        ));
    }
    rows.push(Row::check(
        "worst p99, first page and filters".into(),
        format!("{worst_list:.2} ms"),
        format!("≤ {TARGET_LIST_P99_MS} ms"),
        worst_list <= TARGET_LIST_P99_MS,
    ));
    rows.push(Row::check(
        "worst p99, keyword search".into(),
        format!("{worst_search:.2} ms"),
        format!("≤ {TARGET_SEARCH_P99_MS} ms"),
        worst_search <= TARGET_SEARCH_P99_MS,
    ));
    Ok(())
}
