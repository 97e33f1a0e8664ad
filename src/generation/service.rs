//! Generation rules (seed 3.4, 5.3 ⑦–⑩): validation, quota, ownership, the task's public view.

use actix_web::http::StatusCode;
use chrono::{NaiveDateTime, Utc};
use image::ImageFormat;
use rand::Rng;
use serde::Deserialize;

use super::model::{
    self, Card, CardUpdate, Generation, Kind, NewGeneration, NewUpload, Params, TaskErrorView,
    TaskStatus, TaskView,
};
use super::providers::ModelInfo;
use super::store;
use crate::app::AppState;
use crate::catalogue::service as catalogue;
use crate::db::run_blocking;
use crate::error::{AppError, AppResult};
use crate::i18n::{self, Lang};
use crate::storage::{self, images, media, names, sha256_hex};
use crate::users::model::{rfc3339, User};

pub const MAX_PROMPT_CHARS: usize = 2000;
pub const PAGE_SIZE: i64 = 30;

/// The request of seed 5.3 ⑦ plus optional `model` and `params`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NewTask {
    #[serde(rename = "type")]
    pub kind: String,
    pub prompt: String,
    pub images: Vec<String>,
    pub model: Option<String>,
    #[serde(deserialize_with = "crate::json::object")]
    pub params: Option<Params>,
}

/// The document's schema of a request: one shape per type, from the same rules `validate`
/// checks (`Kind::image_range`, `MAX_PROMPT_CHARS`, a prompt for the text kinds).
impl utoipa::PartialSchema for NewTask {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use crate::web::openapi::{text, text_matching};
        use utoipa::openapi::schema::{OneOfBuilder, SchemaType};
        use utoipa::openapi::{ArrayBuilder, ObjectBuilder, Ref, RefOr, Type};
        let string = || ObjectBuilder::new().schema_type(Type::String);
        let mut shapes = OneOfBuilder::new();
        for kind in [Kind::T2i, Kind::I2i, Kind::T2v, Kind::I2v] {
            let (least, most) = kind.image_range();
            let text_only = least == 0;
            let prompt = if text_only {
                text_matching(1, MAX_PROMPT_CHARS, r"\S")
            } else {
                text(0, MAX_PROMPT_CHARS)
            };
            let images = ArrayBuilder::new()
                .items(string())
                .min_items(Some(least))
                .max_items(Some(most));
            let mut shape = ObjectBuilder::new()
                .property("type", string().enum_values(Some([kind.as_str()])))
                .required("type")
                .property("prompt", prompt)
                .property("images", images);
            if text_only {
                shape = shape.required("prompt");
            } else {
                shape = shape.required("images");
            }
            shapes = shapes.item(shape);
        }
        let fields = ObjectBuilder::new()
            .description(Some(
                "`type` t2i | i2i | t2v | i2v. `prompt` (at most 2000 characters) is needed for t2i \
                 and t2v. `images` are ids of the caller's own uploads (or the `file_url` they came \
                 with): none for t2i and t2v, 1–3 for i2i, 1–2 keyframes (first, last) for i2v.",
            ))
            .property("type", RefOr::Ref(Ref::from_schema_name("Kind")))
            .required("type")
            .property("prompt", text(0, MAX_PROMPT_CHARS))
            .property("images", ArrayBuilder::new().items(string()))
            .property(
                "model",
                ObjectBuilder::new()
                    .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                    .description(Some(
                        "`provider/model` from `GET /api/v1/models`; absent or null: the first model of the type",
                    )),
            )
            .property("params", params_schema())
            .examples([serde_json::json!({"type": "t2i", "prompt": "一只在雪地里奔跑的狐狸"})]);
        utoipa::openapi::schema::AllOfBuilder::new()
            .item(fields)
            .item(shapes)
            .into()
    }
}

/// A request's `params`: [`request_params`], or null.
pub fn params_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::OneOfBuilder;
    use utoipa::openapi::{ObjectBuilder, Type};
    utoipa::openapi::schema::Schema::OneOf(
        OneOfBuilder::new()
            .item(request_params())
            .item(ObjectBuilder::new().schema_type(Type::Null))
            .build(),
    )
}

/// One shape per type: the type and how many references it takes (`Kind::image_range`), for
/// requests that make several tasks of one type.
pub fn images_by_kind() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::OneOfBuilder;
    use utoipa::openapi::{ArrayBuilder, ObjectBuilder, Type};
    let mut shapes = OneOfBuilder::new();
    for kind in [Kind::T2i, Kind::I2i, Kind::T2v, Kind::I2v] {
        let (least, most) = kind.image_range();
        let images = ArrayBuilder::new()
            .items(ObjectBuilder::new().schema_type(Type::String))
            .min_items(Some(least))
            .max_items(Some(most));
        let mut shape = ObjectBuilder::new()
            .property(
                "type",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some([kind.as_str()])),
            )
            .required("type")
            .property("images", images);
        if least > 0 {
            shape = shape.required("images");
        }
        shapes = shapes.item(shape);
    }
    utoipa::openapi::schema::Schema::OneOf(shapes.build())
}

/// `Params` as a request may give them: `size`, or `aspect` and/or `resolution`, not both (a
/// stored task's answer holds the size they were turned into, so this is the request's rule).
fn request_params() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{AllOfBuilder, AnyOfBuilder};
    use utoipa::openapi::{ObjectBuilder, Ref, Type};
    let null = || ObjectBuilder::new().schema_type(Type::Null);
    AllOfBuilder::new()
        .item(Ref::from_schema_name("Params"))
        .item(
            AnyOfBuilder::new()
                .item(ObjectBuilder::new().property("size", null()))
                .item(
                    ObjectBuilder::new()
                        .property("aspect", null())
                        .property("resolution", null()),
                ),
        )
        .build()
        .into()
}

impl utoipa::ToSchema for NewTask {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        use utoipa::PartialSchema as _;
        schemas.push((Kind::name().into(), Kind::schema()));
        schemas.push((Params::name().into(), Params::schema()));
        Params::schemas(schemas);
    }
}

/// An upload reference may be its id or the `file_url` we returned; nothing is ever fetched.
fn upload_id(reference: &str) -> String {
    let path = reference.split(['?', '#']).next().unwrap_or(reference);
    let last = path.rsplit('/').next().unwrap_or(path);
    last.split('.').next().unwrap_or(last).to_string()
}

/// The most results one submit may ask for (`params.n`).
pub const MAX_COUNT: u32 = 4;

fn validate(task: &NewTask) -> AppResult<(Kind, String, Params, u32)> {
    let kind =
        Kind::parse(task.kind.trim()).ok_or_else(|| AppError::invalid("type", "err.gen.type"))?;
    let prompt = task.prompt.trim().to_string();
    if prompt.chars().count() > MAX_PROMPT_CHARS {
        return Err(AppError::invalid("prompt", "err.gen.prompt_long"));
    }
    if prompt.is_empty() && matches!(kind, Kind::T2i | Kind::T2v) {
        return Err(AppError::invalid("prompt", "err.gen.prompt_required"));
    }
    let (least, most) = kind.image_range();
    if task.images.len() < least || task.images.len() > most {
        return Err(AppError::invalid("images", "err.gen.image_count"));
    }
    let (mut params, count) = checked_params(kind, task.params.clone())?;
    // A seed is always chosen, so every result can be made again exactly (`catalogue::complete`
    // drops it again for a model that takes none).
    params
        .seed
        .get_or_insert_with(|| u64::from(rand::thread_rng().gen::<u32>()));
    // `params.images` is the server's record of `images`; whatever a request puts there is replaced.
    params.images = task.images.iter().map(|r| upload_id(r)).collect();
    Ok((kind, prompt, params, count))
}

/// A request's parameters checked and normalised (an aspect ratio or resolution becomes a
/// size), with the count `n` taken out; also what an estimate checks.
pub fn checked_params(kind: Kind, params: Option<Params>) -> AppResult<(Params, u32)> {
    let mut params = params.unwrap_or_default();
    if let Some(size) = &params.size {
        let ok = size
            .split_once(['x', '*'])
            .and_then(|(w, h)| Some((w.parse::<u32>().ok()?, h.parse::<u32>().ok()?)))
            .is_some_and(|(w, h)| (64..=2048).contains(&w) && (64..=2048).contains(&h));
        if !ok {
            return Err(AppError::invalid("params", "err.gen.size"));
        }
    }
    // Vendors take 32-bit seeds; the document says so too.
    if params.seed.is_some_and(|s| s > u64::from(u32::MAX)) {
        return Err(AppError::invalid("params", "err.gen.params"));
    }
    if params.strength.is_some_and(|s| !(0.0..=1.0).contains(&s)) {
        return Err(AppError::invalid("params", "err.gen.strength"));
    }
    if params.duration.is_some_and(|d| !(2..=10).contains(&d)) {
        return Err(AppError::invalid("params", "err.gen.duration"));
    }
    if params.aspect.is_some() || params.resolution.is_some() {
        if params.size.is_some() {
            return Err(AppError::invalid("params", "err.gen.size_or_aspect"));
        }
        let bad = || AppError::invalid("params", "err.gen.aspect");
        let short = match params.resolution.as_deref() {
            Some(r) => Some(model::short_edge(r).ok_or_else(bad)?),
            None => None,
        };
        let shape = match params.aspect.as_deref() {
            Some(a) => Some(model::parse_aspect(a).ok_or_else(bad)?),
            // With references and no ratio, the first reference's shape decides (the engine).
            None if kind.image_range().0 > 0 => None,
            None => Some(kind.default_aspect()),
        };
        if let Some((w, h)) = shape {
            let (w, h) = model::frame_size(w, h, short, kind.is_video());
            params.size = Some(format!("{w}x{h}"));
        }
        params.resolution = params.resolution.map(|r| r.trim().to_ascii_lowercase());
    }
    let count = params.n.take().unwrap_or(1);
    if !(1..=MAX_COUNT).contains(&count) {
        return Err(AppError::invalid("params", "err.gen.count"));
    }
    if params
        .negative_prompt
        .as_ref()
        .is_some_and(|n| n.chars().count() > MAX_PROMPT_CHARS)
        || params
            .style
            .as_ref()
            .is_some_and(|s| s.chars().count() > 50)
    {
        return Err(AppError::invalid("params", "err.gen.params"));
    }
    Ok((params, count))
}

/// A well-formed request naming something that is not there for this caller (an upload, a
/// model): HTTP 422, with the seed's code 400 for bad parameters.
fn unprocessable(field: &'static str, key: &'static str) -> AppError {
    AppError::client(StatusCode::UNPROCESSABLE_ENTITY, 400, key).on_field(field)
}

fn start_of_day(now: NaiveDateTime) -> NaiveDateTime {
    now.date().and_hms_opt(0, 0, 0).unwrap_or(now)
}

/// A request checked, its prompt moderated and its model chosen: what [`queue`] inserts.
pub struct Prepared {
    kind: Kind,
    prompt: String,
    params: Params,
    count: u32,
    model: ModelInfo,
    /// Each task's price from the catalogue, charged when it is queued.
    price: Option<i64>,
}

/// Checks one request (its fields, its prompt against the moderation lists, its model and
/// what the model can do) without queuing it; [`queue`] then inserts any number at once.
pub async fn prepare(state: &AppState, user: &User, task: &NewTask) -> AppResult<Prepared> {
    let (kind, prompt, mut params, count) = validate(task)?;
    crate::moderation::service::check_prompt(state, user, &prompt).await?;
    let model: ModelInfo = state
        .providers
        .pick(task.model.as_deref(), kind)
        .ok_or_else(|| unprocessable("model", "err.gen.model"))?;
    // What the model cannot do is refused here, before anything is queued or paid for.
    let asked = task.params.clone().unwrap_or_default();
    catalogue::check(&model, kind, task.images.len(), &asked)?;
    catalogue::complete(&model, kind, &mut params);
    let price = catalogue::task_price(&model, kind, &params);
    Ok(Prepared {
        kind,
        prompt,
        params,
        count,
        model,
        price,
    })
}

/// Queues prepared requests in one transaction under the user's lock: their references must
/// be the user's own uploads and the daily quota must hold all their tasks; each task is
/// charged its price. Each request makes `params.n` tasks with consecutive seeds. `then` runs
/// in the same transaction with the tasks of each request, in order (a batch writes its items
/// there). Wakes the engine and the user's pages.
pub async fn queue<R: Send + 'static>(
    state: &AppState,
    user: &User,
    requests: Vec<Prepared>,
    then: impl FnOnce(&mut crate::db::DbConn, &[Vec<Generation>]) -> AppResult<R> + Send + 'static,
) -> AppResult<(Vec<Vec<Generation>>, R)> {
    let (user_id, quota) = (user.id, user.daily_quota);
    let mut wanted: Vec<String> = requests
        .iter()
        .flat_map(|r| r.params.images.iter().cloned())
        .collect();
    wanted.sort();
    wanted.dedup();
    let total: i64 = requests.iter().map(|r| i64::from(r.count)).sum();
    let (made, extra) = state
        .db
        .run(move |conn| {
            if store::uploads_owned(conn, user_id, &wanted)?.len() != wanted.len() {
                return Err(unprocessable("images", "err.gen.image_unknown"));
            }
            store::with_user_lock(conn, user_id, |conn| {
                let now = Utc::now().naive_utc();
                if let Some(limit) = quota {
                    let used = store::count_since(conn, user_id, start_of_day(now))?;
                    if used + total > i64::from(limit) {
                        return Err(AppError::client(
                            StatusCode::TOO_MANY_REQUESTS,
                            429,
                            "err.gen.quota",
                        ));
                    }
                }
                let mut made = Vec::with_capacity(requests.len());
                for r in &requests {
                    let tasks = insert_tasks(conn, user_id, r, now)?;
                    let ids: Vec<i64> = tasks.iter().map(|g| g.id).collect();
                    catalogue::charge(conn, user_id, &ids, r.price, &r.model.price.currency, now)?;
                    made.push(tasks);
                }
                let extra = then(conn, &made)?;
                Ok((made, extra))
            })
        })
        .await?;
    state.wake.notify_one();
    for g in made.iter().flatten() {
        state.live.publish(g.user_id, &g.uuid);
    }
    Ok((made, extra))
}

/// The `count` tasks of one request, with consecutive seeds.
fn insert_tasks(
    conn: &mut crate::db::DbConn,
    user_id: i64,
    r: &Prepared,
    now: NaiveDateTime,
) -> AppResult<Vec<Generation>> {
    let mut created = Vec::with_capacity(r.count as usize);
    for i in 0..r.count {
        let mut one = r.params.clone();
        // `validate` keeps seeds within 32 bits; the next ones wrap there too.
        one.seed = one.seed.map(|s| u64::from((s as u32).wrapping_add(i)));
        let parameters =
            serde_json::to_string(&one).map_err(|e| AppError::internal(e, "params"))?;
        let uuid = uuid::Uuid::new_v4().to_string();
        let row = NewGeneration {
            uuid: &uuid,
            user_id,
            status: TaskStatus::Queued.as_str(),
            generation_type: r.kind.as_str(),
            prompt: (!r.prompt.is_empty()).then_some(r.prompt.as_str()),
            parameters: Some(&parameters),
            provider: &r.model.provider,
            model: &r.model.model,
            attempts: 0,
            next_attempt_at: now,
            progress: 0,
            created_at: now,
            updated_at: now,
        };
        created.push(store::insert(conn, &row)?);
    }
    Ok(created)
}

/// Queues the task, or `params.n` tasks with consecutive seeds; answers with the first.
pub async fn submit(
    state: &AppState,
    user: &User,
    task: NewTask,
    lang: Lang,
) -> AppResult<TaskView> {
    let prepared = prepare(state, user, &task).await?;
    let (made, ()) = queue(state, user, vec![prepared], |_, _| Ok(())).await?;
    let created = made.into_iter().flatten().collect::<Vec<_>>();
    let batch: Vec<String> = if created.len() > 1 {
        created.iter().map(|g| g.uuid.clone()).collect()
    } else {
        Vec::new()
    };
    let first = created
        .into_iter()
        .next()
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("no task made"), "submit"))?;
    let mut view = view_one(state, first, lang).await?;
    view.batch = batch;
    Ok(view)
}

async fn view_one(state: &AppState, task: Generation, lang: Lang) -> AppResult<TaskView> {
    let position = if task.status == TaskStatus::Queued.as_str() {
        let t = task.clone();
        Some(
            state
                .db
                .run(move |conn| Ok(store::queue_position(conn, &t)?))
                .await?,
        )
    } else {
        None
    };
    Ok(view(state, &task, position, lang))
}

/// A signed, expiring URL for one of a task's files (seed 6.1).
pub fn file_url(state: &AppState, kind: &str, uuid: &str) -> String {
    let expires = Utc::now().timestamp() + state.config.engine.result_url_ttl;
    // Rounded, so pages that re-render often reuse the same URL and the browser's cache.
    let expires = expires - expires % 600 + 600;
    storage::sign(
        &state.secret,
        &format!("/api/v1/files/{kind}/{uuid}"),
        expires,
    )
}

pub fn view(state: &AppState, g: &Generation, queue_position: Option<i64>, lang: Lang) -> TaskView {
    let done = g.status == TaskStatus::Completed.as_str();
    let error = match (g.status.as_str(), &g.error_code) {
        ("failed" | "queued", Some(code)) => Some(TaskErrorView {
            code: code.clone(),
            message: i18n::text(lang, code),
        }),
        _ => None,
    };
    TaskView {
        task_id: g.uuid.clone(),
        kind: g.generation_type.clone(),
        status: g.status.clone(),
        prompt: g.prompt.clone(),
        params: g.params(),
        provider: g.provider.clone(),
        model: g.model.clone(),
        progress: g.progress,
        queue_position,
        error,
        result_url: done.then(|| file_url(state, "result", &g.uuid)),
        thumbnail_url: done.then(|| file_url(state, "thumb", &g.uuid)),
        mime: g.result_mime.clone(),
        width: g.width,
        height: g.height,
        attempts: g.attempts,
        notes: g.notes(),
        made_at: g.created_at,
        batch: Vec::new(),
        created_at: rfc3339(g.created_at),
        started_at: g.started_at.map(rfc3339),
        completed_at: g.completed_at.map(rfc3339),
    }
}

async fn owned(state: &AppState, user: &User, task_id: &str) -> AppResult<Generation> {
    let (user_id, uuid) = (user.id, task_id.to_string());
    state
        .db
        .run(move |conn| Ok(store::find_owned(conn, user_id, &uuid)?))
        .await?
        .ok_or_else(AppError::not_found)
}

pub async fn get(state: &AppState, user: &User, task_id: &str, lang: Lang) -> AppResult<TaskView> {
    let task = owned(state, user, task_id).await?;
    view_one(state, task, lang).await
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct TaskPage {
    pub tasks: Vec<TaskView>,
    /// Pass as `before` for older tasks; absent on the last page.
    pub next: Option<String>,
}

pub async fn list(
    state: &AppState,
    user: &User,
    before: Option<String>,
    lang: Lang,
) -> AppResult<TaskPage> {
    let user_id = user.id;
    let rows = state
        .db
        .run(move |conn| {
            let anchor = match before {
                Some(uuid) => match store::find_owned(conn, user_id, &uuid)? {
                    Some(g) => Some(g.id),
                    None => return Ok(Vec::new()),
                },
                None => None,
            };
            let rows = store::list_for_user(conn, user_id, anchor, PAGE_SIZE + 1)?;
            rows.into_iter()
                .map(|g| {
                    let position = if g.status == "queued" {
                        Some(store::queue_position(conn, &g)?)
                    } else {
                        None
                    };
                    Ok((g, position))
                })
                .collect::<AppResult<Vec<_>>>()
        })
        .await?;
    let more = rows.len() as i64 > PAGE_SIZE;
    let tasks: Vec<TaskView> = rows
        .iter()
        .take(PAGE_SIZE as usize)
        .map(|(g, p)| view(state, g, *p, lang))
        .collect();
    let next = if more {
        tasks.last().map(|t| t.task_id.clone())
    } else {
        None
    };
    Ok(TaskPage { tasks, next })
}

/// Tasks (newest first, as `list` gives them) as cards, newest first: the tasks of one
/// submit share one card.
pub fn cards(state: &AppState, tasks: Vec<TaskView>, lang: Lang) -> Vec<Card> {
    let labels = model_labels(state);
    let mut groups: Vec<Vec<TaskView>> = Vec::new();
    for task in tasks {
        match groups.last_mut() {
            Some(group) if group.first().map(card_id) == Some(card_id(&task)) => group.push(task),
            _ => groups.push(vec![task]),
        }
    }
    groups
        .into_iter()
        .filter_map(|mut group| {
            group.reverse();
            card(&labels, group, lang)
        })
        .collect()
}

/// The card a task belongs to: the tasks of one submit share the instant they were made, their
/// prompt, kind and model (no other column is needed to know them again).
pub fn card_id(task: &TaskView) -> String {
    card_id_of(
        task.made_at,
        &task.kind,
        &task.provider,
        &task.model,
        task.prompt.as_deref(),
    )
}

fn card_id_of(
    made_at: NaiveDateTime,
    kind: &str,
    provider: &str,
    model: &str,
    prompt: Option<&str>,
) -> String {
    let what = format!("{kind}\0{provider}\0{model}\0{}", prompt.unwrap_or(""));
    let digest = sha256_hex(what.as_bytes());
    format!(
        "card-{}-{}",
        made_at.and_utc().timestamp_micros(),
        &digest[..12]
    )
}

pub fn model_labels(state: &AppState) -> std::collections::HashMap<(String, String), String> {
    state
        .providers
        .models()
        .into_iter()
        .map(|m| ((m.provider, m.model), m.label))
        .collect()
}

fn card(
    labels: &std::collections::HashMap<(String, String), String>,
    tasks: Vec<TaskView>,
    lang: Lang,
) -> Option<Card> {
    let first = tasks.first()?;
    let id = card_id(first);
    let any = |s: &str| tasks.iter().any(|t| t.status == s);
    let status = if any("processing") {
        "processing"
    } else if any("queued") {
        "queued"
    } else if any("completed") {
        "completed"
    } else {
        first.status.as_str()
    }
    .to_string();
    let model_label = labels
        .get(&(first.provider.clone(), first.model.clone()))
        .cloned()
        .unwrap_or_else(|| first.model.clone());
    let style_label = match (&first.params.style, first.kind.as_str()) {
        (Some(style), _) => {
            let key = format!("studio.styles.{style}");
            let text = i18n::text(lang, &key);
            Some(if text == key { style.clone() } else { text })
        }
        (None, "i2i") => Some(i18n::text(lang, "studio.style_auto")),
        _ => None,
    };
    let notes = tasks.iter().find_map(|t| t.notes.clone());
    Some(Card {
        id,
        made: first.made_at.and_utc().timestamp_micros(),
        status,
        tasks,
        model_label,
        style_label,
        notes,
    })
}

/// What the pages of `user_id` should show now that the task `uuid` changed; None when the
/// task is not theirs.
pub async fn card_update(
    state: &AppState,
    user_id: i64,
    uuid: &str,
    lang: Lang,
) -> AppResult<Option<CardUpdate>> {
    let uuid = uuid.to_string();
    let rows = state
        .db
        .run(move |conn| {
            let Some(task) = store::find_owned_any(conn, user_id, &uuid)? else {
                return Ok(None);
            };
            let gone = card_id_of(
                task.created_at,
                &task.generation_type,
                &task.provider,
                &task.model,
                task.prompt.as_deref(),
            );
            let members = store::made_with(conn, &task)?
                .into_iter()
                .filter(|g| g.deleted_at.is_none())
                .map(|g| {
                    let position = if g.status == TaskStatus::Queued.as_str() {
                        Some(store::queue_position(conn, &g)?)
                    } else {
                        None
                    };
                    Ok((g, position))
                })
                .collect::<AppResult<Vec<_>>>()?;
            Ok(Some((members, gone)))
        })
        .await?;
    let Some((members, gone)) = rows else {
        return Ok(None);
    };
    let views = members
        .iter()
        .map(|(g, p)| view(state, g, *p, lang))
        .collect();
    Ok(Some(match card(&model_labels(state), views, lang) {
        Some(card) => CardUpdate::Show(card),
        None => CardUpdate::Gone(gone),
    }))
}

/// The card that holds the user's task `uuid` now.
pub async fn card_for(
    state: &AppState,
    user: &User,
    uuid: &str,
    lang: Lang,
) -> AppResult<Option<Card>> {
    Ok(match card_update(state, user.id, uuid, lang).await? {
        Some(CardUpdate::Show(card)) => Some(card),
        _ => None,
    })
}

pub async fn cancel(
    state: &AppState,
    user: &User,
    task_id: &str,
    lang: Lang,
) -> AppResult<TaskView> {
    let task = owned(state, user, task_id).await?;
    let id = task.id;
    let canceled = state
        .db
        .run(move |conn| Ok(store::cancel(conn, id, Utc::now().naive_utc())?))
        .await?;
    if !canceled {
        return Err(AppError::client(
            StatusCode::CONFLICT,
            409,
            "err.gen.finished",
        ));
    }
    state.live.publish(user.id, &task.uuid);
    get(state, user, task_id, lang).await
}

/// Runs a failed or canceled task again as a new task with the same request.
pub async fn retry(
    state: &AppState,
    user: &User,
    task_id: &str,
    lang: Lang,
) -> AppResult<TaskView> {
    let task = owned(state, user, task_id).await?;
    if !matches!(task.status.as_str(), "failed" | "canceled") {
        return Err(AppError::client(
            StatusCode::CONFLICT,
            409,
            "err.gen.not_retryable",
        ));
    }
    submit(state, user, request_of(state, &task), lang).await
}

/// The request that makes `task` again: its kind, prompt, references, model and parameters.
pub fn request_of(state: &AppState, task: &Generation) -> NewTask {
    let mut params = task.params().into_request();
    let images = std::mem::take(&mut params.images);
    // Tasks stored before the catalogue kept a seed for models that take none.
    if let Some(model) = state.providers.pick(Some(&own_model(task)), task.kind()) {
        catalogue::complete(&model, task.kind(), &mut params);
    }
    NewTask {
        kind: task.generation_type.clone(),
        prompt: task.prompt.clone().unwrap_or_default(),
        images,
        model: Some(own_model(task)),
        params: Some(params),
    }
}

fn own_model(task: &Generation) -> String {
    format!("{}/{}", task.provider, task.model)
}

/// What the form needs to make a task again (复用参数), as `static/generate.js` reads it.
#[derive(Debug, serde::Serialize)]
pub struct Recipe {
    #[serde(rename = "type")]
    pub kind: String,
    pub prompt: String,
    pub params: Params,
    /// `provider/model`: the task's own, or with `other_model` the next model of its kind.
    pub model: String,
}

/// The recipe of one of the user's tasks; `other_model` picks the next model that makes the
/// same kind (换个模型再生成), or keeps the task's own when it is the only one.
pub async fn recipe(
    state: &AppState,
    user: &User,
    task_id: &str,
    other_model: bool,
) -> AppResult<Recipe> {
    let task = owned(state, user, task_id).await?;
    Ok(recipe_of(state, &task, other_model))
}

/// The form's recipe for a task: its kind, prompt, parameters and model (or, with
/// `other_model`, the next model able to make the same kind).
pub fn recipe_of(state: &AppState, task: &Generation, other_model: bool) -> Recipe {
    let own = format!("{}/{}", task.provider, task.model);
    let model = if other_model {
        let able: Vec<String> = models(state)
            .into_iter()
            .filter(|m| m.kinds.contains(&task.kind()))
            .map(|m| m.id)
            .collect();
        let at = able.iter().position(|m| *m == own);
        let next = at.map_or(0, |i| i + 1) % able.len().max(1);
        able.get(next).cloned().unwrap_or(own)
    } else {
        own
    };
    let mut params = task.params().into_request();
    // References are uploads the form shows as thumbnails; they are added again by hand.
    params.images.clear();
    Recipe {
        kind: task.generation_type.clone(),
        prompt: task.prompt.clone().unwrap_or_default(),
        params,
        model,
    }
}

pub fn models(state: &AppState) -> Vec<ModelInfo> {
    state.providers.models()
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Uploaded {
    /// For `images` of a generation request.
    #[schema(format = Uuid)]
    pub file_id: String,
    /// Signed; expires.
    pub file_url: String,
    pub mime: String,
    pub width: i32,
    pub height: i32,
}

/// Stores a reference image: PNG, JPEG or WebP by its bytes, within size and pixel limits,
/// turned upright by its EXIF orientation and re-encoded, which drops EXIF (GPS included).
pub async fn upload(state: &AppState, user: &User, bytes: Vec<u8>) -> AppResult<Uploaded> {
    if bytes.is_empty() {
        return Err(AppError::invalid("file", "err.upload.empty"));
    }
    let (format, _) = images::sniff(&bytes).ok_or_else(|| {
        AppError::client(StatusCode::UNSUPPORTED_MEDIA_TYPE, 400, "err.upload.format")
    })?;
    let (clean, mime, w, h) = run_blocking(move || {
        let img = media::contained("upload", || images::decode_upright(&bytes, format)).map_err(
            |_| {
                AppError::client(StatusCode::BAD_REQUEST, 400, "err.upload.broken").on_field("file")
            },
        )?;
        let (clean, mime) = match format {
            ImageFormat::Jpeg => (images::encode_jpeg(&img), "image/jpeg"),
            _ => (images::encode_png(&img.to_rgb8()), "image/png"),
        };
        let clean = clean.map_err(|e| AppError::internal(e, "re-encode upload"))?;
        Ok((clean, mime, img.width() as i32, img.height() as i32))
    })
    .await?;
    let uuid = uuid::Uuid::new_v4().to_string();
    let ext = if mime == "image/jpeg" { "jpg" } else { "png" };
    let key = format!("uploads/{}/{uuid}.{ext}", &uuid[..2]);
    let sha = sha256_hex(&clean);
    let size = clean.len() as i64;
    state
        .storage
        .put(&key, clean)
        .await
        .map_err(|e| AppError::internal(e, "store upload"))?;
    let user_id = user.id;
    let (key_s, uuid_s) = (key.clone(), uuid.clone());
    state
        .db
        .run(move |conn| {
            let row = NewUpload {
                uuid: &uuid_s,
                user_id,
                physical_path: &key_s,
                mime,
                width: w,
                height: h,
                bytes: size,
                sha256: &sha,
                created_at: Utc::now().naive_utc(),
            };
            Ok(store::insert_upload(conn, &row)?)
        })
        .await?;
    Ok(Uploaded {
        file_url: file_url(state, "upload", &uuid),
        file_id: uuid,
        mime: mime.into(),
        width: w,
        height: h,
    })
}

/// The object behind a signed URL: (storage key, content type), if the signature holds.
/// A stored file a signed link may fetch.
pub struct SignedFile {
    pub key: String,
    pub mime: String,
    /// What a download of a result is called (`PictureDeck_<prompt>_<date>.png`).
    pub name: Option<String>,
}

pub async fn signed_file(
    state: &AppState,
    kind: &str,
    uuid: &str,
    expires: i64,
    sig: &str,
) -> AppResult<SignedFile> {
    let path = format!("/api/v1/files/{kind}/{uuid}");
    if !storage::verify(&state.secret, &path, expires, sig, Utc::now().timestamp()) {
        return Err(AppError::forbidden("err.link_expired"));
    }
    let uuid_s = uuid.to_string();
    // A banned owner's files stop with their share links, whatever links are still about.
    let unbanned = |conn: &mut crate::db::DbConn, owner: i64| -> AppResult<bool> {
        Ok(!crate::users::store::is_banned(conn, owner)?)
    };
    let mut name = None;
    let (key, mime) = match kind {
        "result" | "thumb" => {
            let task = state
                .db
                .run(move |conn| {
                    let task = store::find_by_uuid(conn, &uuid_s)?;
                    Ok(match task {
                        Some(t) if unbanned(conn, t.user_id)? => Some(t),
                        _ => None,
                    })
                })
                .await?
                .filter(|g| g.status == TaskStatus::Completed.as_str())
                .ok_or_else(AppError::not_found)?;
            if kind == "thumb" {
                (task.thumb_path, Some("image/webp".to_string()))
            } else {
                let mime = task.result_mime.as_deref().unwrap_or_default();
                name = Some(names::download_name(
                    task.prompt.as_deref(),
                    task.created_at,
                    mime,
                ));
                (task.physical_path, task.result_mime)
            }
        }
        "upload" => {
            let upload = state
                .db
                .run(move |conn| {
                    Ok(match store::find_upload(conn, &uuid_s)? {
                        Some(u) if unbanned(conn, u.user_id)? => Some(u),
                        _ => None,
                    })
                })
                .await?
                .ok_or_else(AppError::not_found)?;
            (Some(upload.physical_path), Some(upload.mime))
        }
        _ => return Err(AppError::not_found()),
    };
    let key = key.ok_or_else(AppError::not_found)?;
    Ok(SignedFile {
        key,
        mime: mime.unwrap_or_else(|| "application/octet-stream".into()),
        name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_references_are_ids_or_our_urls() {
        assert_eq!(upload_id("abc-123"), "abc-123");
        assert_eq!(
            upload_id("/api/v1/files/upload/abc-123?exp=1&sig=2"),
            "abc-123"
        );
        assert_eq!(
            upload_id("https://example.com/uploads/ref_10231.png"),
            "ref_10231"
        );
    }

    #[test]
    fn aspect_and_resolution_become_a_size() {
        let size = |k: Kind, a: Option<&str>, r: Option<&str>| {
            let (w, h) = a.map_or(Some(k.default_aspect()), model::parse_aspect)?;
            let short = r.map(model::short_edge);
            (short != Some(None)).then(|| model::frame_size(w, h, short.flatten(), k.is_video()))
        };
        assert_eq!(size(Kind::T2i, Some("1:1"), None), Some((1024, 1024)));
        assert_eq!(size(Kind::T2i, Some("16:9"), None), Some((1024, 576)));
        assert_eq!(size(Kind::T2i, Some("3:4"), None), Some((768, 1024)));
        assert_eq!(size(Kind::T2v, None, None), Some((1280, 720)));
        assert_eq!(
            size(Kind::T2v, Some("9:16"), Some("1080P")),
            Some((1080, 1920))
        );
        assert_eq!(
            size(Kind::T2v, Some("16:9"), Some("480p")),
            Some((856, 480))
        );
        for bad in ["16/9", "0:1", "9:1", "a:b", "33:32"] {
            assert_eq!(size(Kind::T2i, Some(bad), None), None, "{bad}");
        }
        assert_eq!(size(Kind::T2v, None, Some("4k")), None);
    }

    #[test]
    fn count_aspect_and_size_are_checked() {
        let with = |params: Params| NewTask {
            kind: "t2v".into(),
            prompt: "海浪".into(),
            params: Some(params),
            ..Default::default()
        };
        let (_, _, params, count) = validate(&with(Params {
            aspect: Some("16:9".into()),
            resolution: Some("720P".into()),
            n: Some(3),
            ..Default::default()
        }))
        .unwrap();
        assert_eq!(count, 3);
        assert_eq!(params.size.as_deref(), Some("1280x720"));
        assert_eq!(params.resolution.as_deref(), Some("720p"));
        assert_eq!(params.n, None, "the count is not stored with a task");
        for bad in [
            Params {
                n: Some(0),
                ..Default::default()
            },
            Params {
                n: Some(MAX_COUNT + 1),
                ..Default::default()
            },
            Params {
                size: Some("640x480".into()),
                aspect: Some("4:3".into()),
                ..Default::default()
            },
            Params {
                aspect: Some("<script>".into()),
                ..Default::default()
            },
        ] {
            assert_eq!(validate(&with(bad)).unwrap_err().field(), Some("params"));
        }
    }

    #[test]
    fn requests_are_validated() {
        let ok = NewTask {
            kind: "t2i".into(),
            prompt: "雪山".into(),
            ..Default::default()
        };
        let (kind, _, params, count) = validate(&ok).unwrap();
        assert_eq!((kind, count), (Kind::T2i, 1));
        assert!(params.seed.is_some(), "a seed is always chosen");
        let field = |t: NewTask| validate(&t).unwrap_err().field();
        assert_eq!(
            field(NewTask {
                kind: "gif".into(),
                ..Default::default()
            }),
            Some("type")
        );
        assert_eq!(
            field(NewTask {
                kind: "t2i".into(),
                ..Default::default()
            }),
            Some("prompt")
        );
        assert_eq!(
            field(NewTask {
                kind: "i2i".into(),
                prompt: "油画".into(),
                ..Default::default()
            }),
            Some("images")
        );
        let big = NewTask {
            kind: "t2i".into(),
            prompt: "x".repeat(MAX_PROMPT_CHARS + 1),
            ..Default::default()
        };
        assert_eq!(field(big), Some("prompt"));
        let bad_size = NewTask {
            kind: "t2i".into(),
            prompt: "a".into(),
            params: Some(Params {
                size: Some("99999x1".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(field(bad_size), Some("params"));
    }
}
