//! Group rules: a batch or a comparison becomes ordinary generation requests, checked and
//! queued in one transaction through `generation::service::{prepare, queue}`; cancel-all,
//! retry-failed, picking results into a folder, and the group as the pages and API show it.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use chrono::{NaiveDateTime, Utc};
use rand::Rng;
use serde::Deserialize;

use super::model::{
    GroupKind, GroupSummary, GroupView, ItemView, NewTaskGroup, Progress, TaskGroup,
};
use super::prompts::MAX_ITEMS;
use super::store;
use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::generation::model::{Generation, Kind, Params, TaskStatus};
use crate::generation::service::{self as generation, NewTask};
use crate::i18n::Lang;
use crate::users::model::{rfc3339, User};

/// Models one batch or comparison may name.
pub const MAX_MODELS: usize = 6;
/// Seeds one batch may name.
pub const MAX_SEEDS: usize = 100;
pub const MAX_TITLE_CHARS: usize = 100;
/// Groups the library lists.
const LIST_LIMIT: i64 = 100;

/// A batch: every prompt × every model × every seed, as one group.
#[derive(Debug, Default, Deserialize)]
pub struct NewBatch {
    #[serde(rename = "type")]
    pub kind: String,
    /// One task per prompt (and model and seed); at most 1000 tasks in all.
    pub prompts: Vec<String>,
    /// Reference uploads every task uses (i2i, i2v).
    #[serde(default)]
    pub images: Vec<String>,
    /// `provider/model` ids; none: the first model of the type.
    #[serde(default)]
    pub models: Vec<String>,
    /// One task per seed; none: each task gets its own.
    #[serde(default, deserialize_with = "whole_seeds")]
    pub seeds: Vec<u32>,
    #[serde(default, deserialize_with = "crate::json::object")]
    pub params: Option<Params>,
    /// Shown in the library; the first prompt when absent.
    #[serde(default)]
    pub title: Option<String>,
}

/// Seeds as whole numbers within 32 bits (`7.0` counts, as JSON Schema says).
fn whole_seeds<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u32>, D::Error> {
    use serde::de::Error as _;
    #[derive(Deserialize)]
    struct Seed(#[serde(deserialize_with = "crate::json::whole")] Option<u32>);
    Vec::<Seed>::deserialize(d)?
        .into_iter()
        .map(|s| s.0.ok_or_else(|| D::Error::custom("a seed is null")))
        .collect()
}

/// A comparison: one request on 2–6 models, with one seed for all.
#[derive(Debug, Default, Deserialize)]
pub struct NewComparison {
    #[serde(rename = "type")]
    pub kind: String,
    pub prompt: String,
    #[serde(default)]
    pub images: Vec<String>,
    /// `provider/model` ids, 2–6 different ones.
    pub models: Vec<String>,
    #[serde(default, deserialize_with = "crate::json::object")]
    pub params: Option<Params>,
    #[serde(default)]
    pub title: Option<String>,
}

/// Picks of a comparison into one of the user's folders.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct Pick {
    /// Task ids of the group's items.
    #[schema(min_items = 1, max_items = 1000)]
    pub tasks: Vec<String>,
    /// The folder's id.
    #[schema(format = Uuid)]
    pub folder: String,
}

/// The document's schemas of the two requests: their fields, and per type the references it
/// takes (`generation::service::images_by_kind`), from the same rules the service checks.
mod schema {
    use utoipa::openapi::schema::{AllOfBuilder, ArrayBuilder, ObjectBuilder, Schema};
    use utoipa::openapi::{Ref, RefOr, Type};

    use super::{MAX_ITEMS, MAX_MODELS, MAX_SEEDS, MAX_TITLE_CHARS};
    use crate::generation::service::{images_by_kind, params_schema, MAX_PROMPT_CHARS};
    use crate::web::openapi::{integer, or_null, text_matching};

    fn prompt() -> utoipa::openapi::Object {
        text_matching(1, MAX_PROMPT_CHARS, r"\S")
    }

    fn models(least: usize) -> ArrayBuilder {
        ArrayBuilder::new()
            .items(ObjectBuilder::new().schema_type(Type::String))
            .min_items((least > 0).then_some(least))
            .max_items(Some(MAX_MODELS))
            .unique_items(true)
    }

    fn common(fields: ObjectBuilder) -> RefOr<Schema> {
        let fields = fields
            .property("type", Ref::from_schema_name("Kind"))
            .required("type")
            .property(
                "images",
                ArrayBuilder::new().items(ObjectBuilder::new().schema_type(Type::String)),
            )
            .property("params", params_schema())
            .property(
                "title",
                or_null(text_matching(
                    0,
                    MAX_TITLE_CHARS,
                    r"^[^\x00-\x1f\x7f-\x9f]*$",
                )),
            );
        AllOfBuilder::new()
            .item(fields)
            .item(images_by_kind())
            .into()
    }

    impl utoipa::PartialSchema for super::NewBatch {
        fn schema() -> RefOr<Schema> {
            common(
                ObjectBuilder::new()
                    .description(Some(
                        "Every combination of `prompts`, `models` and `seeds`, at most 1000 in all.",
                    ))
                    .property(
                        "prompts",
                        ArrayBuilder::new()
                            .items(prompt())
                            .min_items(Some(1))
                            .max_items(Some(MAX_ITEMS)),
                    )
                    .required("prompts")
                    .property("models", models(0))
                    .property(
                        "seeds",
                        ArrayBuilder::new()
                            .items(integer(0, i64::from(u32::MAX)))
                            .max_items(Some(MAX_SEEDS)),
                    ),
            )
        }
    }

    impl utoipa::ToSchema for super::NewBatch {}

    impl utoipa::PartialSchema for super::NewComparison {
        fn schema() -> RefOr<Schema> {
            common(
                ObjectBuilder::new()
                    .description(Some(
                        "One prompt on 2–6 different models, one seed for all.",
                    ))
                    .property("prompt", prompt())
                    .required("prompt")
                    .property("models", models(2))
                    .required("models"),
            )
        }
    }

    impl utoipa::ToSchema for super::NewComparison {}
}

/// A rule beyond the request's shape: HTTP 422 with the seed's code 400.
fn unprocessable(field: &'static str, key: &'static str) -> AppError {
    AppError::client(StatusCode::UNPROCESSABLE_ENTITY, 400, key).on_field(field)
}

fn distinct_models(models: &[String], least: usize) -> AppResult<()> {
    let mut seen: Vec<&str> = models.iter().map(String::as_str).collect();
    seen.sort_unstable();
    seen.dedup();
    if seen.len() != models.len() || models.len() < least || models.len() > MAX_MODELS {
        return Err(AppError::invalid("models", "group.err.models"));
    }
    Ok(())
}

fn title_of(title: Option<String>, prompt: &str) -> AppResult<String> {
    let title = title.map(|t| t.trim().to_string()).unwrap_or_default();
    if title.chars().count() > MAX_TITLE_CHARS || title.chars().any(char::is_control) {
        return Err(AppError::invalid("title", "group.err.title"));
    }
    Ok(if title.is_empty() {
        prompt.chars().take(40).collect()
    } else {
        title
    })
}

/// The requests of a batch, in item order: by prompt, then model, then seed.
fn batch_requests(b: NewBatch) -> AppResult<(String, Vec<NewTask>)> {
    if b.prompts.is_empty() {
        return Err(AppError::invalid("prompts", "group.err.no_prompts"));
    }
    if !b.models.is_empty() {
        distinct_models(&b.models, 1)?;
    }
    if b.seeds.len() > MAX_SEEDS {
        return Err(AppError::invalid("seeds", "group.err.seeds"));
    }
    let models: Vec<Option<String>> = match b.models.is_empty() {
        true => vec![None],
        false => b
            .models
            .iter()
            .map(|m| Some(m.trim().to_string()))
            .collect(),
    };
    let seeds: Vec<Option<u32>> = match b.seeds.is_empty() {
        true => vec![None],
        false => b.seeds.iter().copied().map(Some).collect(),
    };
    if b.prompts.iter().any(|p| p.trim().is_empty()) {
        return Err(AppError::invalid("prompts", "err.gen.prompt_required"));
    }
    if b.prompts.len() > MAX_ITEMS {
        return Err(AppError::invalid("prompts", "group.err.too_many"));
    }
    if b.prompts.len() * models.len() * seeds.len() > MAX_ITEMS {
        return Err(unprocessable("prompts", "group.err.too_many"));
    }
    let title = title_of(b.title, b.prompts.first().map_or("", |p| p.trim()))?;
    let params = b.params.unwrap_or_default();
    // `seeds` replace the request's own seed, which is still checked as a submit would.
    if params.seed.is_some_and(|s| s > u64::from(u32::MAX)) {
        return Err(AppError::invalid("params", "err.gen.params"));
    }
    let mut requests = Vec::new();
    for prompt in &b.prompts {
        for model in &models {
            for seed in &seeds {
                let mut params = params.clone();
                if let Some(seed) = seed {
                    params.seed = Some(u64::from(*seed));
                }
                requests.push(NewTask {
                    kind: b.kind.clone(),
                    prompt: prompt.clone(),
                    images: b.images.clone(),
                    model: model.clone(),
                    params: Some(params),
                });
            }
        }
    }
    Ok((title, requests))
}

/// The requests of a comparison: one per model, all with the same seed.
fn comparison_requests(c: NewComparison) -> AppResult<(String, Vec<NewTask>)> {
    distinct_models(&c.models, 2)?;
    if c.prompt.trim().is_empty() {
        return Err(AppError::invalid("prompt", "err.gen.prompt_required"));
    }
    let title = title_of(c.title, c.prompt.trim())?;
    let params = c.params.unwrap_or_default();
    let requests = c
        .models
        .iter()
        .map(|m| NewTask {
            kind: c.kind.clone(),
            prompt: c.prompt.clone(),
            images: c.images.clone(),
            model: Some(m.clone()),
            params: Some(params.clone()),
        })
        .collect();
    Ok((title, requests))
}

pub async fn create_batch(
    state: &AppState,
    user: &User,
    batch: NewBatch,
    lang: Lang,
) -> AppResult<GroupView> {
    let (title, requests) = batch_requests(batch)?;
    create(state, user, GroupKind::Batch, title, requests, lang).await
}

pub async fn create_comparison(
    state: &AppState,
    user: &User,
    comparison: NewComparison,
    lang: Lang,
) -> AppResult<GroupView> {
    let (title, mut requests) = comparison_requests(comparison)?;
    // One seed for every model that takes one, so their results differ only by the model.
    let seed = requests
        .iter()
        .find_map(|r| r.params.as_ref()?.seed)
        .unwrap_or_else(|| u64::from(rand::thread_rng().gen::<u32>()));
    for r in &mut requests {
        let takes_seed = Kind::parse(r.kind.trim())
            .and_then(|kind| state.providers.pick(r.model.as_deref(), kind))
            .is_some_and(|m| m.capabilities.seed);
        if let Some(params) = r.params.as_mut() {
            params.seed = takes_seed.then_some(seed);
        }
    }
    create(state, user, GroupKind::Compare, title, requests, lang).await
}

/// Checks every request as a single submit would, then queues them all with the group in one
/// transaction: either the whole group is made or nothing is.
async fn create(
    state: &AppState,
    user: &User,
    kind: GroupKind,
    title: String,
    requests: Vec<NewTask>,
    lang: Lang,
) -> AppResult<GroupView> {
    let mut prepared = Vec::with_capacity(requests.len());
    for request in &requests {
        prepared.push(generation::prepare(state, user, request).await?);
    }
    let user_id = user.id;
    let (_, group) = generation::queue(state, user, prepared, move |conn, made| {
        let now = Utc::now().naive_utc();
        let uuid = uuid::Uuid::new_v4().to_string();
        let row = NewTaskGroup {
            uuid: &uuid,
            user_id,
            kind: kind.as_str(),
            title: &title,
            created_at: now,
            updated_at: now,
        };
        let tasks: Vec<&Generation> = made.iter().flatten().collect();
        Ok(store::insert(conn, &row, &tasks)?)
    })
    .await?;
    let items = load_items(state, group.id).await?;
    Ok(view(state, &group, items, lang))
}

async fn owned(state: &AppState, user_id: i64, group_id: &str) -> AppResult<TaskGroup> {
    let uuid = group_id.to_string();
    state
        .db
        .run(move |conn| Ok(store::find_owned(conn, user_id, &uuid)?))
        .await?
        .ok_or_else(AppError::not_found)
}

async fn load_items(state: &AppState, group_id: i64) -> AppResult<Vec<(i32, Generation)>> {
    state
        .db
        .run(move |conn| Ok(store::items(conn, group_id)?))
        .await
}

pub async fn get(
    state: &AppState,
    user: &User,
    group_id: &str,
    lang: Lang,
) -> AppResult<GroupView> {
    view_of(state, user.id, group_id, lang).await
}

/// The group `group_id` of `user_id` as it is now.
pub async fn view_of(
    state: &AppState,
    user_id: i64,
    group_id: &str,
    lang: Lang,
) -> AppResult<GroupView> {
    let group = owned(state, user_id, group_id).await?;
    let items = load_items(state, group.id).await?;
    Ok(view(state, &group, items, lang))
}

/// The user's groups, newest first, optionally of one kind.
pub async fn list(
    state: &AppState,
    user: &User,
    kind: Option<GroupKind>,
) -> AppResult<Vec<GroupSummary>> {
    let user_id = user.id;
    let (groups, states) = state
        .db
        .run(move |conn| {
            let groups = store::list(conn, user_id, kind.map(GroupKind::as_str), LIST_LIMIT)?;
            let ids: Vec<i64> = groups.iter().map(|g| g.id).collect();
            Ok((groups, store::item_states(conn, &ids)?))
        })
        .await?;
    let mut progress: HashMap<i64, Progress> = HashMap::new();
    for (group, status, deleted) in states {
        progress
            .entry(group)
            .or_default()
            .count(&status, deleted.is_some());
    }
    Ok(groups
        .into_iter()
        .map(|g| GroupSummary {
            progress: progress.remove(&g.id).unwrap_or_default(),
            group_id: g.uuid,
            kind: GroupKind::parse(&g.kind).unwrap_or(GroupKind::Batch),
            title: g.title,
            created_at: rfc3339(g.created_at),
        })
        .collect())
}

/// Cancels every item that has not finished.
pub async fn cancel(
    state: &AppState,
    user: &User,
    group_id: &str,
    lang: Lang,
) -> AppResult<GroupView> {
    let group = owned(state, user.id, group_id).await?;
    let items = load_items(state, group.id).await?;
    let open: Vec<&Generation> = items
        .iter()
        .map(|(_, g)| g)
        .filter(|g| !TaskStatus::is_final(&g.status) && g.deleted_at.is_none())
        .collect();
    let ids: Vec<i64> = open.iter().map(|g| g.id).collect();
    state
        .db
        .run(move |conn| {
            Ok(crate::generation::store::cancel_all(
                conn,
                &ids,
                Utc::now().naive_utc(),
            )?)
        })
        .await?;
    for g in open {
        state.live.publish(user.id, &g.uuid);
    }
    get(state, user, group_id, lang).await
}

/// Runs every failed or canceled item again as a new task with the same request; the item
/// then shows the new task (the old one stays in the library).
pub async fn retry(
    state: &AppState,
    user: &User,
    group_id: &str,
    lang: Lang,
) -> AppResult<GroupView> {
    let group = owned(state, user.id, group_id).await?;
    let items = load_items(state, group.id).await?;
    let again: Vec<(i32, NewTask)> = items
        .iter()
        .filter(|(_, g)| {
            matches!(g.status.as_str(), "failed" | "canceled") && g.deleted_at.is_none()
        })
        .map(|(p, g)| (*p, generation::request_of(state, g)))
        .collect();
    if again.is_empty() {
        return Err(AppError::client(
            StatusCode::CONFLICT,
            409,
            "group.err.nothing_to_retry",
        ));
    }
    let mut prepared = Vec::with_capacity(again.len());
    for (_, request) in &again {
        prepared.push(generation::prepare(state, user, request).await?);
    }
    let positions: Vec<i32> = again.iter().map(|(p, _)| *p).collect();
    let group_row = group.id;
    generation::queue(state, user, prepared, move |conn, made| {
        let now = Utc::now().naive_utc();
        for (position, tasks) in positions.iter().zip(made) {
            if let Some(task) = tasks.first() {
                store::repoint(conn, group_row, *position, task.id, now)?;
            }
        }
        Ok(())
    })
    .await?;
    get(state, user, group_id, lang).await
}

/// Files the picked results of the group into one of the user's folders.
pub async fn pick(state: &AppState, user: &User, group_id: &str, pick: Pick) -> AppResult<usize> {
    let group = owned(state, user.id, group_id).await?;
    let items = load_items(state, group.id).await?;
    let known = |t: &String| {
        items
            .iter()
            .any(|(_, g)| &g.uuid == t && g.deleted_at.is_none())
    };
    if pick.tasks.is_empty() {
        return Err(AppError::invalid("tasks", "group.err.pick"));
    }
    if !pick.tasks.iter().all(known) {
        return Err(unprocessable("tasks", "group.err.pick"));
    }
    crate::library::service::move_results(state, user, &pick.tasks, Some(&pick.folder)).await
}

/// Takes the group off the list; its results stay in the library.
pub async fn delete(state: &AppState, user: &User, group_id: &str) -> AppResult<()> {
    let group = owned(state, user.id, group_id).await?;
    state
        .db
        .run(move |conn| Ok(store::delete(conn, group.id, Utc::now().naive_utc())?))
        .await
}

/// The finished results of the group, for its ZIP.
pub async fn export_ids(state: &AppState, user: &User, group_id: &str) -> AppResult<Vec<String>> {
    let group = owned(state, user.id, group_id).await?;
    let ids: Vec<String> = load_items(state, group.id)
        .await?
        .into_iter()
        .filter(|(_, g)| g.status == TaskStatus::Completed.as_str() && g.deleted_at.is_none())
        .map(|(_, g)| g.uuid)
        .collect();
    if ids.is_empty() {
        return Err(AppError::client(
            StatusCode::CONFLICT,
            409,
            "group.err.nothing_to_export",
        ));
    }
    Ok(ids)
}

/// The estimated price of a finished task: its model's catalogue price for its kind (and
/// length), in `stats.currency`.
fn task_cost(state: &AppState, g: &Generation) -> Option<f64> {
    let model = state
        .providers
        .pick(Some(&format!("{}/{}", g.provider, g.model)), g.kind())?;
    crate::catalogue::service::task_price(&model, g.kind(), &g.params())
        .map(|micros| micros as f64 / crate::catalogue::model::MICROS)
}

fn seconds_between(from: NaiveDateTime, to: NaiveDateTime) -> f64 {
    (to - from).num_milliseconds().max(0) as f64 / 1000.0
}

fn view(
    state: &AppState,
    group: &TaskGroup,
    items: Vec<(i32, Generation)>,
    lang: Lang,
) -> GroupView {
    let labels = generation::model_labels(state);
    let now = Utc::now().naive_utc();
    let mut progress = Progress::default();
    let mut cost: Option<f64> = None;
    let mut last = group.created_at;
    let items: Vec<ItemView> = items
        .into_iter()
        .map(|(position, g)| {
            let deleted = g.deleted_at.is_some();
            progress.count(&g.status, deleted);
            let done = g.status == TaskStatus::Completed.as_str() && !deleted;
            let item_cost = done.then(|| task_cost(state, &g)).flatten();
            if let Some(c) = item_cost {
                *cost.get_or_insert(0.0) += c;
            }
            let end = if TaskStatus::is_final(&g.status) {
                g.completed_at.unwrap_or(g.updated_at)
            } else {
                now
            };
            last = last.max(end);
            let mut task = generation::view(state, &g, None, lang);
            if deleted {
                task.result_url = None;
                task.thumbnail_url = None;
            }
            ItemView {
                position,
                state: if deleted {
                    "deleted".into()
                } else {
                    g.status.clone()
                },
                model_label: labels
                    .get(&(g.provider.clone(), g.model.clone()))
                    .cloned()
                    .unwrap_or_else(|| g.model.clone()),
                seconds: g.started_at.map(|s| seconds_between(s, end)),
                cost: item_cost,
                task,
            }
        })
        .collect();
    if progress.running() {
        last = now;
    }
    GroupView {
        group_id: group.uuid.clone(),
        kind: GroupKind::parse(&group.kind).unwrap_or(GroupKind::Batch),
        title: group.title.clone(),
        created_at: rfc3339(group.created_at),
        progress,
        seconds: seconds_between(group.created_at, last),
        cost,
        currency: state.config.stats.currency.clone(),
        items,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_prompts_by_models_by_seeds() {
        let (title, requests) = batch_requests(NewBatch {
            kind: "t2i".into(),
            prompts: vec!["雪山".into(), "海".into()],
            models: vec!["a/x".into(), "b/y".into()],
            seeds: vec![1, 2, 3],
            ..Default::default()
        })
        .unwrap();
        assert_eq!(title, "雪山");
        assert_eq!(requests.len(), 12);
        let last = requests.last().unwrap();
        assert_eq!(
            (last.prompt.as_str(), last.model.as_deref()),
            ("海", Some("b/y"))
        );
        assert_eq!(last.params.as_ref().unwrap().seed, Some(3));
        let too_many = NewBatch {
            prompts: vec!["p".into(); 400],
            seeds: vec![1, 2, 3],
            ..Default::default()
        };
        assert_eq!(
            batch_requests(too_many).unwrap_err().field(),
            Some("prompts")
        );
    }

    #[test]
    fn a_comparison_is_two_to_six_models_with_one_seed() {
        let with = |models: &[&str]| NewComparison {
            kind: "t2i".into(),
            prompt: "狐狸".into(),
            models: models.iter().map(|m| m.to_string()).collect(),
            ..Default::default()
        };
        let (_, requests) = comparison_requests(with(&["a/x", "b/y", "c/z"])).unwrap();
        assert_eq!(requests.len(), 3);
        for bad in [
            &["a/x"][..],
            &["a/x", "a/x"],
            &["1", "2", "3", "4", "5", "6", "7"],
        ] {
            assert_eq!(
                comparison_requests(with(bad)).unwrap_err().field(),
                Some("models")
            );
        }
    }
}
