//! 管理 → 系统监控 (a panel that htmx reloads every few seconds) and 管理 → 日志 (the log
//! centre with its filters).

use actix_web::http::StatusCode;
use actix_web::web::{self, Data, Query};
use actix_web::{HttpRequest, HttpResponse};

use super::logs::LogQuery;
use super::service;
use crate::app::AppState;
use crate::error::AppResult;
use crate::web::auth::PageUser;
use crate::web::render::{base_context, render};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/monitoring", web::get().to(monitoring_page))
        .route("/admin/monitoring/panel", web::get().to(monitoring_panel))
        .route("/admin/logs", web::get().to(logs_page));
}

/// How often the panel reloads itself.
const REFRESH_SECONDS: u32 = 5;

async fn monitoring_context(
    req: &HttpRequest,
    state: &AppState,
    user: &PageUser,
) -> AppResult<tera::Context> {
    let view = service::monitoring(state, &user.0).await?;
    let recent = super::alerts::recent(state, &user.0).await?;
    let mut ctx = base_context(req, Some(&user.0));
    ctx.insert("nav", "admin");
    ctx.insert("tab", "monitoring");
    let s = &view.snapshot;
    ctx.insert("m", s);
    // Figures as the page shows them (Tera's arithmetic would round them oddly).
    let mut names: Vec<&String> = s.running_by_provider.keys().collect();
    names.extend(s.providers.iter().map(|p| &p.provider));
    names.sort();
    names.dedup();
    let rows: Vec<serde_json::Value> = names
        .into_iter()
        .map(|name| {
            let calls = s.providers.iter().find(|p| &p.provider == name);
            let rate = calls.and_then(|c| c.error_rate_percent);
            serde_json::json!({
                "name": name,
                "running": s.running_by_provider.get(name).copied().unwrap_or(0),
                "calls": calls.map_or(0, |c| c.calls),
                "failed": calls.map_or(0, |c| c.failed),
                "rate": rate.map(|r| format!("{r:.1}")),
                "bad": rate.is_some_and(|r| {
                    let limit = state.config.alerts.error_rate_percent;
                    limit > 0 && r > limit as f64
                }),
            })
        })
        .collect();
    ctx.insert("provider_rows", &rows);
    let mib = |b: Option<u64>| b.map(|b| b / (1024 * 1024));
    ctx.insert(
        "shown",
        &serde_json::json!({
            "memory_mib": mib(s.process.memory_bytes),
            "disk_free_mib": mib(s.process.disk_free_bytes),
            "disk_total_mib": mib(s.process.disk_total_bytes),
            "busy_percent": if s.engine_slots > 0 { s.engine_busy * 100 / s.engine_slots } else { 0 },
            "cpu_percent": s.process.cpu_percent.map(|p| format!("{p:.1}")),
            "cpu_seconds": s.process.cpu_seconds.map(|p| format!("{p:.1}")),
            "at": s.at.replace('T', " ").replace('Z', " UTC"),
            "oldest": human_seconds(s.oldest_queued_seconds),
        }),
    );
    ctx.insert(
        "recent_alerts",
        &recent.into_iter().take(20).collect::<Vec<_>>(),
    );
    ctx.insert("refresh_seconds", &REFRESH_SECONDS);
    ctx.insert(
        "thresholds",
        &serde_json::to_value(&state.config.alerts).unwrap_or_default(),
    );
    Ok(ctx)
}

async fn monitoring_page(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
) -> AppResult<HttpResponse> {
    let ctx = monitoring_context(&req, &state, &user).await?;
    render(
        &state.templates,
        "admin/monitoring.html",
        &ctx,
        StatusCode::OK,
    )
}

async fn monitoring_panel(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
) -> AppResult<HttpResponse> {
    let ctx = monitoring_context(&req, &state, &user).await?;
    render(
        &state.templates,
        "admin/_monitoring_panel.html",
        &ctx,
        StatusCode::OK,
    )
}

async fn logs_page(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
    q: Query<LogQuery>,
) -> AppResult<HttpResponse> {
    let mut query = q.into_inner();
    // A page shows a sensible screenful; the filters narrow it.
    query.limit = Some(query.limit.unwrap_or(200).clamp(1, super::logs::MAX_LIMIT));
    let page = service::logs(&state, &user.0, &query)?;
    let mut ctx = base_context(&req, Some(&user.0));
    ctx.insert("nav", "admin");
    ctx.insert("tab", "logs");
    ctx.insert("page", &page);
    ctx.insert("query", &query);
    ctx.insert(
        "retention",
        &serde_json::to_value(&state.config.retention).unwrap_or_default(),
    );
    render(&state.templates, "admin/logs.html", &ctx, StatusCode::OK)
}

/// A wait as people read it: `42 s`, `3 min 5 s`, `2 h 10 min`, `3 d 4 h`.
fn human_seconds(s: i64) -> String {
    let (d, h, m, sec) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60, s % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{sec} s"),
        (0, 0, _) => format!("{m} min {sec} s"),
        (0, _, _) => format!("{h} h {m} min"),
        _ => format!("{d} d {h} h"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn waits_read_in_the_largest_two_units() {
        assert_eq!(super::human_seconds(42), "42 s");
        assert_eq!(super::human_seconds(185), "3 min 5 s");
        assert_eq!(super::human_seconds(7800), "2 h 10 min");
        assert_eq!(super::human_seconds(3 * 86_400 + 4 * 3600 + 9), "3 d 4 h");
    }
}
