//! `/admin/stats`: the statistics page (range picker, two SVG charts, tables) and its CSV
//! downloads. Figures are formatted here, once, for both languages.

use actix_web::http::StatusCode;
use actix_web::web::{self, Data, Query};
use actix_web::{HttpRequest, HttpResponse};
use chrono::{Duration, Utc};
use serde::Serialize;

use super::api::{csv_response, CsvQuery};
use super::chart::{self, Column};
use super::service::{self, StatsQuery, StatsReport};
use crate::app::AppState;
use crate::error::AppResult;
use crate::i18n::{self, Lang};
use crate::web::auth::PageUser;
use crate::web::render::{base_context, render, urlencode};

/// Accounts listed on the page; the CSV has them all.
const PAGE_USERS: usize = 50;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/stats", web::get().to(stats_page))
        .route("/admin/stats.csv", web::get().to(stats_csv));
}

#[derive(Serialize)]
struct Row {
    name: String,
    sub: String,
    calls: String,
    success: String,
    failures: String,
    p50: String,
    p95: String,
    tasks: String,
    tasks_failed: String,
    images: String,
    video: String,
    cost: String,
}

#[derive(Serialize)]
struct Preset {
    label: String,
    href: String,
    active: bool,
}

fn int(v: i64) -> String {
    let digits = v.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    if v < 0 {
        out.insert(0, '-');
    }
    out
}

fn pct(v: Option<f64>) -> String {
    v.map(|v| format!("{:.1} %", v * 100.0))
        .unwrap_or_else(|| "—".into())
}

fn ms(v: Option<f64>) -> String {
    match v {
        Some(v) if v >= 1_000.0 => format!("{:.1} s", v / 1000.0),
        Some(v) => format!("{v:.0} ms"),
        None => "—".into(),
    }
}

fn money(v: Option<f64>, currency: &str) -> String {
    v.map(|v| format!("{v:.2} {currency}"))
        .unwrap_or_else(|| "—".into())
}

fn seconds(v: f64) -> String {
    format!("{v:.0} s")
}

/// A failure reason in the reader's language, or as recorded when it has no text.
fn reason(lang: Lang, reason: &str) -> String {
    let key = format!("stats.reason.{reason}");
    let text = i18n::text(lang, &key);
    if text == key {
        reason.to_string()
    } else {
        text
    }
}

fn query_string(q: &StatsQuery) -> String {
    let mut parts = Vec::new();
    for (k, v) in [("from", &q.from), ("to", &q.to), ("by", &q.by)] {
        if let Some(v) = v.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            parts.push(format!("{k}={}", urlencode(v)));
        }
    }
    parts.join("&")
}

fn charts(report: &StatsReport) -> (chart::Chart, chart::Chart) {
    let hourly = report.by == "hour";
    let label = |at: &str| {
        if hourly {
            // "2026-12-01T13:00:00Z" → "12-01 13h" on day starts, else "13h"
            let (date, time) = at.split_once('T').unwrap_or((at, ""));
            let hour = time.get(..2).unwrap_or("");
            if hour == "00" {
                format!("{} {hour}h", date.get(5..).unwrap_or(date))
            } else {
                format!("{hour}h")
            }
        } else {
            at.get(5..10).unwrap_or(at).to_string()
        }
    };
    let title_at = |at: &str| {
        let t = at.replace('T', " ").replace(":00:00Z", ":00 UTC");
        if hourly {
            t
        } else {
            t.get(..10).unwrap_or(&t).to_string()
        }
    };
    let calls: Vec<Column> = report
        .series
        .iter()
        .map(|p| Column {
            label: label(&p.at),
            title: format!(
                "{}: {} ok, {} failed",
                title_at(&p.at),
                p.calls - p.failed_calls,
                p.failed_calls
            ),
            low: (p.calls - p.failed_calls) as f64,
            high: p.failed_calls as f64,
        })
        .collect();
    let tasks: Vec<Column> = report
        .series
        .iter()
        .map(|p| Column {
            label: label(&p.at),
            title: format!(
                "{}: {} completed ({} images, {:.0} s video), {} failed",
                title_at(&p.at),
                p.tasks_completed,
                p.images,
                p.video_seconds,
                p.tasks_failed
            ),
            low: p.tasks_completed as f64,
            high: p.tasks_failed as f64,
        })
        .collect();
    (
        chart::stacked(&calls, ("bar-ok", "bar-failed"), 8),
        chart::stacked(&tasks, ("bar-done", "bar-failed"), 8),
    )
}

async fn stats_page(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
    lang: Lang,
    q: Query<StatsQuery>,
) -> AppResult<HttpResponse> {
    let query = q.into_inner();
    let report = service::report(&state, &user.0, &query).await?;
    let cur = &report.currency;
    let models: Vec<Row> = report
        .models
        .iter()
        .map(|m| Row {
            name: m.model.clone(),
            sub: m.provider.clone(),
            calls: int(m.calls),
            success: pct(m.success_rate),
            failures: m
                .failure_rates
                .iter()
                .map(|(r, v)| format!("{} {}", reason(lang, r), pct(Some(*v))))
                .collect::<Vec<_>>()
                .join(" · "),
            p50: ms(m.latency_p50_ms),
            p95: ms(m.latency_p95_ms),
            tasks: int(m.tasks_completed),
            tasks_failed: int(m.tasks_failed),
            images: int(m.images),
            video: seconds(m.video_seconds),
            cost: money(m.cost, cur),
        })
        .collect();
    let failures: Vec<Row> = report
        .failures
        .iter()
        .map(|f| Row {
            name: reason(lang, &f.reason),
            sub: format!("{} / {}", f.provider, f.model),
            calls: int(f.calls),
            success: String::new(),
            failures: if f.calls > 0 {
                pct(f.call_rate)
            } else {
                "—".into()
            },
            p50: String::new(),
            p95: String::new(),
            tasks: String::new(),
            tasks_failed: int(f.tasks),
            images: f.reason.clone(),
            video: String::new(),
            cost: String::new(),
        })
        .collect();
    let users: Vec<Row> = report
        .users
        .iter()
        .take(PAGE_USERS)
        .map(|u| Row {
            name: u.user.clone().unwrap_or_else(|| "—".into()),
            sub: String::new(),
            calls: int(u.calls),
            success: pct(u.success_rate),
            failures: int(u.failed_calls),
            p50: String::new(),
            p95: String::new(),
            tasks: int(u.tasks_completed),
            tasks_failed: int(u.tasks_failed),
            images: int(u.images),
            video: seconds(u.video_seconds),
            cost: money(u.cost, cur),
        })
        .collect();
    let t = &report.totals;
    let totals = Row {
        name: String::new(),
        sub: String::new(),
        calls: int(t.calls),
        success: pct(t.success_rate),
        failures: int(t.failed_calls),
        p50: ms(t.latency_p50_ms),
        p95: ms(t.latency_p95_ms),
        tasks: int(t.tasks_completed),
        tasks_failed: int(t.tasks_failed),
        images: int(t.images),
        video: seconds(t.video_seconds),
        cost: money(t.cost, cur),
    };
    let today = Utc::now().date_naive();
    let presets: Vec<Preset> = [
        (1, "hour", "today"),
        (7, "day", "d7"),
        (30, "day", "d30"),
        (90, "day", "d90"),
    ]
    .into_iter()
    .map(|(days, by, key)| {
        let from = (today - Duration::days(days - 1)).to_string();
        Preset {
            label: i18n::text(lang, &format!("stats.preset.{key}")),
            active: report.from == from && report.to == today.to_string() && report.by == by,
            href: format!("/admin/stats?from={from}&to={today}&by={by}"),
        }
    })
    .collect();
    let (calls_chart, tasks_chart) = charts(&report);
    let mut ctx = base_context(&req, Some(&user.0));
    ctx.insert("nav", "admin");
    ctx.insert("tab", "stats");
    ctx.insert("report", &report);
    ctx.insert("totals", &totals);
    ctx.insert("models", &models);
    ctx.insert("failures", &failures);
    ctx.insert("users", &users);
    ctx.insert("more_users", &report.users.len().saturating_sub(PAGE_USERS));
    ctx.insert("presets", &presets);
    ctx.insert("calls_chart", &calls_chart);
    ctx.insert("tasks_chart", &tasks_chart);
    let qs = query_string(&StatsQuery {
        from: Some(report.from.clone()),
        to: Some(report.to.clone()),
        by: Some(report.by.clone()),
    });
    ctx.insert("csv_query", &qs);
    render(&state.templates, "stats/page.html", &ctx, StatusCode::OK)
}

async fn stats_csv(
    state: Data<AppState>,
    user: PageUser,
    q: Query<CsvQuery>,
) -> AppResult<HttpResponse> {
    crate::admin::service::require_admin(&user.0)?;
    let (q, table) = q.into_inner().split()?;
    let (name, body) = service::csv(&state, &user.0, &q, table).await?;
    Ok(csv_response(&name, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_read_well() {
        assert_eq!(int(1234567), "1,234,567");
        assert_eq!(int(-1000), "-1,000");
        assert_eq!(int(999), "999");
        assert_eq!(pct(Some(0.9876)), "98.8 %");
        assert_eq!(pct(None), "—");
        assert_eq!(ms(Some(12_345.0)), "12.3 s");
        assert_eq!(ms(Some(6_896.0)), "6.9 s");
        assert_eq!(ms(Some(87.4)), "87 ms");
    }
}
