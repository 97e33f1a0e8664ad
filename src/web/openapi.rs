//! The OpenAPI 3 document of the JSON API (`/api/v1/openapi.json`) and its docs page
//! (`/api/docs`). Each area adds its operations here as it grows.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use crate::app::AppState;
use crate::error::AppResult;
use crate::web::render::{base_context, render};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/openapi.json", web::get().to(spec_json));
    cfg.route("/api/docs", web::get().to(docs_page));
}

async fn spec_json() -> HttpResponse {
    HttpResponse::Ok().json(spec())
}

async fn docs_page(req: HttpRequest, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let mut ctx = base_context(&req, None);
    ctx.insert("spec", &spec());
    render(&state.templates, "docs/api.html", &ctx, StatusCode::OK)
}

fn string(description: &str) -> Value {
    json!({ "type": "string", "description": description })
}

fn object(required: &[&str], props: &[(&str, Value)]) -> Value {
    let properties: Map<String, Value> = props
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    json!({ "type": "object", "required": required, "properties": properties })
}

/// The envelope with `data` of the named schema (or none).
fn envelope(data: Option<&str>) -> Value {
    let mut props = vec![
        (
            "code",
            json!({ "type": "integer", "description": "Seed status code (see the operation)" }),
        ),
        (
            "message",
            string("Human-readable message in the request's language (zh by default)"),
        ),
    ];
    if let Some(name) = data {
        props.push((
            "data",
            json!({ "$ref": format!("#/components/schemas/{name}") }),
        ));
    } else {
        props.push(("data", json!({ "type": "object", "nullable": true, "description": "For 400s: { field } names the offending field" })));
    }
    object(&["code", "message"], &props)
}

struct Op<'a> {
    method: &'a str,
    path: &'a str,
    tag: &'a str,
    summary: &'a str,
    description: &'a str,
    request: Option<&'a str>,
    data: Option<&'a str>,
    /// (HTTP status, description naming the envelope `code`).
    responses: &'a [(u16, &'a str)],
    auth: bool,
    /// (name, "path" | "query", description).
    params: &'a [(&'a str, &'a str, &'a str)],
}

fn operation(op: &Op<'_>) -> Value {
    let mut responses = Map::new();
    for (status, description) in op.responses {
        let schema = if *status < 300 {
            envelope(op.data)
        } else {
            envelope(None)
        };
        responses.insert(
            status.to_string(),
            json!({ "description": description, "content": { "application/json": { "schema": schema } } }),
        );
    }
    let mut value = json!({
        "tags": [op.tag],
        "summary": op.summary,
        "description": op.description,
        "responses": responses,
    });
    match op.request {
        // The body is the file itself (seed 5.3 ⑧).
        Some("image") => {
            let binary = json!({ "schema": { "type": "string", "format": "binary" } });
            value["requestBody"] = json!({
                "required": true,
                "content": { "image/png": binary, "image/jpeg": binary, "image/webp": binary }
            });
        }
        Some(req) => {
            value["requestBody"] = json!({
                "required": true,
                "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{req}") } } }
            });
        }
        None => {}
    }
    if op.auth {
        value["security"] = json!([{ "bearer": [] }]);
    }
    if !op.params.is_empty() {
        let params: Vec<Value> = op
            .params
            .iter()
            .map(|(name, place, description)| {
                json!({ "name": name, "in": place, "required": *place == "path",
                        "description": description, "schema": { "type": "string" } })
            })
            .collect();
        value["parameters"] = Value::Array(params);
    }
    value
}

const LIMITED: (u16, &str) = (429, "code 429: too many attempts; see Retry-After");
const INTERNAL: (u16, &str) = (500, "code 500: server error");
const UNAUTH: (u16, &str) = (401, "code 401: missing, invalid, expired or revoked token");
const BANNED: (u16, &str) = (403, "code 403: the account is banned");

pub fn spec() -> Value {
    let ops = [
        Op {
            method: "post", path: "/api/v1/auth/register", tag: "auth", summary: "Register (seed 5.3 ①)",
            description: "Username 3–50 characters (letters, digits, _ - .), unique without regard to case; email at most 255 characters, unique; password at least 8 characters with letters and digits.",
            request: Some("RegisterRequest"), data: Some("Registered"),
            responses: &[(201, "code 201: registered"), (400, "code 400: invalid parameters; data.field names the field"), (409, "code 401: username taken; code 402: email taken"), INTERNAL],
            auth: false,
            params: &[],
        },
        Op {
            method: "post", path: "/api/v1/auth/login", tag: "auth", summary: "Log in (seed 5.3 ②)",
            description: "Returns a JWT for `Authorization: Bearer`. Attempts are limited per client IP and failures per account.",
            request: Some("LoginRequest"), data: Some("LoggedIn"),
            responses: &[(200, "code 200: logged in"), (400, "code 400: invalid parameters"), (401, "code 401: wrong username or password"), BANNED, LIMITED, INTERNAL],
            auth: false,
            params: &[],
        },
        Op {
            method: "post", path: "/api/v1/auth/forgot-password", tag: "auth", summary: "Mail a password reset code (seed 5.3 ③)",
            description: "Sends a 6-digit code valid for 10 minutes, single use, void after 5 wrong tries; at most one mail per address per 60 s.",
            request: Some("ForgotPasswordRequest"), data: None,
            responses: &[(200, "code 200: mail sent"), (400, "code 400: invalid parameters"), (404, "code 401: email not registered"), LIMITED, INTERNAL],
            auth: false,
            params: &[],
        },
        Op {
            method: "post", path: "/api/v1/auth/reset-password", tag: "auth", summary: "Reset the password with the mailed code (seed 5.3 ④)",
            description: "All tokens issued before stop working.",
            request: Some("ResetPasswordRequest"), data: None,
            responses: &[(200, "code 200: password reset"), (400, "code 400: invalid parameters"), (422, "code 401: code wrong or expired"), LIMITED, INTERNAL],
            auth: false,
            params: &[],
        },
        Op {
            method: "post", path: "/api/v1/auth/logout", tag: "auth", summary: "Log out: the token used for this call stops working",
            description: "Ends only this session; `/user/sessions/revoke-all` ends every one.", request: None, data: None,
            responses: &[(200, "code 200: logged out"), UNAUTH],
            auth: true,
            params: &[],
        },
        Op {
            method: "get", path: "/api/v1/user/sessions", tag: "user", summary: "Where the account is signed in",
            description: "Live sessions, most recently used first; `current` marks the one making the call.", request: None, data: Some("Sessions"),
            responses: &[(200, "code 200"), UNAUTH, BANNED],
            auth: true,
            params: &[],
        },
        Op {
            method: "post", path: "/api/v1/user/sessions/revoke-all", tag: "user", summary: "Sign out everywhere",
            description: "Every token of the account stops working, this one included.", request: None, data: None,
            responses: &[(200, "code 200"), UNAUTH, BANNED],
            auth: true,
            params: &[],
        },
        Op {
            method: "get", path: "/api/v1/user/me", tag: "user", summary: "The signed-in account",
            description: "", request: None, data: Some("User"),
            responses: &[(200, "code 200"), UNAUTH, BANNED],
            auth: true,
            params: &[],
        },
        Op {
            method: "post", path: "/api/v1/user/reset-password", tag: "user", summary: "Change the password (seed 5.3 ⑤)",
            description: "Needs the old password. Revokes every token of the account, including the one used; the answer carries a fresh token.",
            request: Some("ChangePasswordRequest"), data: Some("LoggedIn"),
            responses: &[(200, "code 200: password changed"), (400, "code 400: invalid parameters"), UNAUTH, (422, "code 401: old password wrong"), LIMITED, INTERNAL],
            auth: true,
            params: &[],
        },
        Op {
            method: "post", path: "/api/v1/user/reset-email/code", tag: "user", summary: "Mail a code to the new address (step 1 of seed 5.3 ⑥)",
            description: "Seed 6.1: changing the email needs a code sent to the new address.",
            request: Some("EmailCodeRequest"), data: None,
            responses: &[(200, "code 200: mail sent"), (400, "code 400: invalid parameters"), UNAUTH, (409, "code 401: email taken"), LIMITED, INTERNAL],
            auth: true,
            params: &[],
        },
        Op {
            method: "post", path: "/api/v1/user/reset-email", tag: "user", summary: "Change the email (seed 5.3 ⑥)",
            description: "With the code mailed by /user/reset-email/code.",
            request: Some("ChangeEmailRequest"), data: Some("EmailView"),
            responses: &[(200, "code 200: email changed"), (400, "code 400: invalid parameters"), UNAUTH, (409, "code 401: email taken"), (422, "code 403: code wrong or expired"), LIMITED, INTERNAL],
            auth: true,
            params: &[],
        },
        Op {
            method: "post", path: "/api/v1/generation", tag: "generation", summary: "Start a generation task (seed 5.3 ⑦)",
            description: "`type` t2i | i2i | t2v | i2v; `images` are ids (or our file_url) of the caller's own uploads: i2i 1–3, i2v 1–2 keyframes (first, last). Optional `model` (`provider/model`, see /models) and `params`. A seed is always chosen. Counts against the daily quota.",
            request: Some("NewTask"), data: Some("Task"),
            responses: &[(200, "code 200: task created (queued)"), (400, "code 400: invalid parameters; data.field names the field"), UNAUTH, (429, "code 429: daily quota used up"), INTERNAL],
            auth: true,
            params: &[],
        },
        Op {
            method: "get", path: "/api/v1/generation", tag: "generation", summary: "My tasks, newest first",
            description: "30 a page; pass `next` as `before` for older ones.",
            request: None, data: Some("TaskPage"),
            responses: &[(200, "code 200"), UNAUTH],
            auth: true,
            params: &[("before", "query", "task_id of the last task of the previous page")],
        },
        Op {
            method: "get", path: "/api/v1/generation/{task_id}", tag: "generation", summary: "A task and its result (seed 5.3 ⑨)",
            description: "Status queued | processing | completed | failed | canceled, progress, queue position, error reason, timestamps; when completed, signed expiring `result_url` and `thumbnail_url` (seed 5.3 ⑩).",
            request: None, data: Some("Task"),
            responses: &[(200, "code 200"), UNAUTH, (404, "code 404: no such task of yours")],
            auth: true,
            params: &[("task_id", "path", "the task's id")],
        },
        Op {
            method: "post", path: "/api/v1/generation/{task_id}/cancel", tag: "generation", summary: "Cancel a queued or running task",
            description: "", request: None, data: Some("Task"),
            responses: &[(200, "code 200: canceled"), UNAUTH, (404, "code 404: no such task of yours"), (409, "code 409: already finished")],
            auth: true,
            params: &[("task_id", "path", "the task's id")],
        },
        Op {
            method: "post", path: "/api/v1/generation/{task_id}/retry", tag: "generation", summary: "Run a failed or canceled task again",
            description: "Creates a new task with the same request.", request: None, data: Some("Task"),
            responses: &[(200, "code 200: new task created"), UNAUTH, (404, "code 404: no such task of yours"), (409, "code 409: only failed or canceled tasks"), (429, "code 429: daily quota used up")],
            auth: true,
            params: &[("task_id", "path", "the task's id")],
        },
        Op {
            method: "get", path: "/api/v1/models", tag: "generation", summary: "Configured models and what each can do",
            description: "", request: None, data: Some("Models"),
            responses: &[(200, "code 200")],
            auth: true,
            params: &[],
        },
        Op {
            method: "post", path: "/api/v1/upload", tag: "generation", summary: "Upload a reference image (seed 5.3 ⑧)",
            description: "The body is the image: PNG, JPEG or WebP (sniffed from the bytes), at most 20 MiB and 40 megapixels by default. EXIF orientation is applied and all metadata (GPS included) removed.",
            request: Some("image"), data: Some("Uploaded"),
            responses: &[(200, "code 200: uploaded"), (400, "code 400: empty or broken image"), UNAUTH, (413, "code 413: too large"), (415, "code 400: not PNG, JPEG or WebP")],
            auth: true,
            params: &[],
        },
        Op {
            method: "get", path: "/api/v1/files/{kind}/{uuid}", tag: "generation", summary: "A result, thumbnail or upload by signed link (seed 5.3 ⑩)",
            description: "Links come from task and upload answers and expire; no Authorization needed. ETag, Last-Modified and Range (video seeking) supported. Stored images carry the GB 45438-2025 implicit label (XMP TC260:AIGC).",
            request: None, data: None,
            responses: &[(200, "the file"), (206, "part of the file (Range)"), (403, "code 403: link expired or forged"), (404, "code 404: no such file")],
            auth: false,
            params: &[("kind", "path", "result | thumb | upload"), ("uuid", "path", "task or upload id"), ("exp", "query", "expiry, unix seconds"), ("sig", "query", "signature")],
        },
        Op {
            method: "get", path: "/api/v1/library/results", tag: "library", summary: "生成记录: my results, filtered (seed 3.5)",
            description: "Newest first (or `order=oldest`), 40 a page; pass `next` as `before` for more. Keyword search matches substrings of the prompt (Chinese included), case-insensitive.",
            request: None, data: Some("ResultPage"),
            responses: &[(200, "code 200"), (400, "code 400: a filter is invalid"), UNAUTH, (404, "code 404: no such folder of yours")],
            auth: true,
            params: &[("q", "query", "keyword"), ("type", "query", "t2i | i2i | t2v | i2v"), ("status", "query", "queued | processing | completed | failed | canceled"), ("model", "query", "provider/model or provider"), ("folder", "query", "folder id, or `unfiled`"), ("favorite", "query", "true | false"), ("tag", "query", "a tag"), ("from", "query", "YYYY-MM-DD"), ("to", "query", "YYYY-MM-DD, inclusive"), ("order", "query", "newest | oldest"), ("before", "query", "cursor")],
        },
        Op {
            method: "get", path: "/api/v1/library/results/{id}", tag: "library", summary: "One result with its folder, tags and favourite",
            description: "", request: None, data: Some("Result"),
            responses: &[(200, "code 200"), UNAUTH, (404, "code 404: no such result of yours")],
            auth: true,
            params: &[("id", "path", "task id")],
        },
        Op {
            method: "delete", path: "/api/v1/library/results/{id}", tag: "library", summary: "Delete one result for good (seed 3.5.3.2)",
            description: "The stored files are removed; the result leaves every folder, tag and share.", request: None, data: Some("Count"),
            responses: &[(200, "code 200: deleted"), UNAUTH, (404, "code 404: no such result of yours")],
            auth: true,
            params: &[("id", "path", "task id")],
        },
        Op {
            method: "post", path: "/api/v1/library/results/delete", tag: "library", summary: "Delete several results for good",
            description: "All or nothing: one id that is not yours fails the request.", request: Some("Ids"), data: Some("Count"),
            responses: &[(200, "code 200: deleted"), (400, "code 400: 1–500 ids"), UNAUTH, (404, "code 404: an id is not yours")],
            auth: true,
            params: &[],
        },
        Op {
            method: "post", path: "/api/v1/library/results/move", tag: "library", summary: "Move results into a folder, or out of folders (seed 3.5.3.3 B)",
            description: "`folder` null takes them out of every folder.", request: Some("MoveRequest"), data: Some("Count"),
            responses: &[(200, "code 200: moved"), (400, "code 400: 1–500 ids"), UNAUTH, (404, "code 404: a result or the folder is not yours")],
            auth: true,
            params: &[],
        },
        Op {
            method: "put", path: "/api/v1/library/results/{id}/favorite", tag: "library", summary: "Favourite (收藏) or not",
            description: "", request: Some("FavoriteRequest"), data: Some("Result"),
            responses: &[(200, "code 200"), UNAUTH, (404, "code 404")],
            auth: true,
            params: &[("id", "path", "task id")],
        },
        Op {
            method: "put", path: "/api/v1/library/results/{id}/tags", tag: "library", summary: "Replace a result's tags",
            description: "At most 20 tags of 1–30 characters.", request: Some("TagsRequest"), data: Some("Result"),
            responses: &[(200, "code 200"), (400, "code 400: invalid tags"), UNAUTH, (404, "code 404")],
            auth: true,
            params: &[("id", "path", "task id")],
        },
        Op {
            method: "get", path: "/api/v1/library/tags", tag: "library", summary: "My tags", description: "",
            request: None, data: None, responses: &[(200, "code 200: data is a list of tags"), UNAUTH], auth: true, params: &[],
        },
        Op {
            method: "get", path: "/api/v1/library/folders", tag: "library", summary: "My folder tree with counts",
            description: "", request: None, data: Some("FolderTree"),
            responses: &[(200, "code 200"), UNAUTH], auth: true, params: &[],
        },
        Op {
            method: "post", path: "/api/v1/library/folders", tag: "library", summary: "Create a folder (seed 3.5.3.3 A)",
            description: "Name 1–100 characters, unique among its siblings; `parent` absent for the top level.", request: Some("NewFolder"), data: Some("Folder"),
            responses: &[(201, "code 201: created"), (400, "code 400: invalid name"), UNAUTH, (404, "code 404: no such parent of yours"), (409, "code 409: name taken here")],
            auth: true, params: &[],
        },
        Op {
            method: "patch", path: "/api/v1/library/folders/{id}", tag: "library", summary: "Rename and/or move a folder",
            description: "`parent`: a folder id, or \"\" / \"root\" for the top level. Never into itself or below itself.", request: Some("FolderChange"), data: None,
            responses: &[(200, "code 200: saved"), (400, "code 400: invalid name or a cycle"), UNAUTH, (404, "code 404"), (409, "code 409: name taken here")],
            auth: true, params: &[("id", "path", "folder id")],
        },
        Op {
            method: "delete", path: "/api/v1/library/folders/{id}", tag: "library", summary: "Delete a folder (seed 3.5.3.3 C)",
            description: "Its subfolders go with it; the results in them are not deleted but return to unfiled.", request: None, data: None,
            responses: &[(200, "code 200: deleted"), UNAUTH, (404, "code 404")],
            auth: true, params: &[("id", "path", "folder id")],
        },
        Op {
            method: "get", path: "/api/v1/library/shares", tag: "library", summary: "My live share links", description: "",
            request: None, data: Some("Shares"), responses: &[(200, "code 200"), UNAUTH], auth: true, params: &[],
        },
        Op {
            method: "post", path: "/api/v1/library/shares", tag: "library", summary: "Share a result or a folder",
            description: "Anyone with the link opens `/s/{token}` without logging in and sees only what was shared; optional expiry and password; views are counted.",
            request: Some("NewShare"), data: Some("Share"),
            responses: &[(201, "code 201: created"), (400, "code 400: exactly one of result/folder; expiry 1–8760 h"), UNAUTH, (404, "code 404: not yours")],
            auth: true, params: &[],
        },
        Op {
            method: "delete", path: "/api/v1/library/shares/{id}", tag: "library", summary: "Revoke a share link", description: "",
            request: None, data: None, responses: &[(200, "code 200: revoked"), UNAUTH, (404, "code 404")],
            auth: true, params: &[("id", "path", "share id")],
        },
        Op {
            method: "get", path: "/api/v1/library/export", tag: "library", summary: "Export results as a ZIP (streamed)",
            description: "The original files under files/ plus manifest.json (prompt, parameters, model, timestamps, sha256, folder path, tags).",
            request: None, data: None,
            responses: &[(200, "application/zip"), (400, "code 400: 1–500 ids"), UNAUTH, (404, "code 404: not yours")],
            auth: true, params: &[("ids", "query", "comma-separated result ids"), ("folder", "query", "or a folder id (with subfolders)")],
        },
        Op {
            method: "post", path: "/api/v1/library/import", tag: "library", summary: "Import a ZIP exported by PictureDeck",
            description: "The body is the ZIP. Files whose sha256 does not match the manifest are skipped; folders and tags are recreated.",
            request: None, data: Some("Imported"),
            responses: &[(200, "code 200: data.imported / data.skipped"), (400, "code 400: not a PictureDeck export"), UNAUTH, (413, "code 413: larger than 4 GiB")],
            auth: true, params: &[],
        },
        Op {
            method: "get", path: "/api/v1/admin/users", tag: "admin", summary: "Search accounts (admins only)",
            description: "Newest first, 50 a page, each with its results, tasks today, daily quota, storage used and last login; pass `next` of one page as `before` for the following one (the filters stay the same).",
            request: None, data: Some("AdminUserPage"),
            responses: &[(200, "code 200"), (400, "code 400: a bad filter (data.field)"), UNAUTH, (403, "code 403: not an admin")],
            auth: true,
            params: &[("q", "query", "part of the username or email, any case"), ("status", "query", "active | banned"), ("role", "query", "user | admin"), ("before", "query", "uuid of the last account of the previous page")],
        },
        Op {
            method: "post", path: "/api/v1/admin/users/{uuid}/ban", tag: "admin", summary: "Ban an account (admins only)",
            description: "The account cannot log in and every token it holds stops working at once; its owner is refused with 403 and the reason (`data.reason`). The last active admin cannot be banned.",
            request: Some("BanRequest"), data: Some("AdminUser"),
            responses: &[(200, "code 200: banned"), (400, "code 400: yourself, or a reason over 500 characters"), UNAUTH, (403, "code 403: not an admin"), (404, "code 404: no such account"), (409, "code 409: the last active admin")],
            auth: true,
            params: &[("uuid", "path", "the account's public id")],
        },
        Op {
            method: "post", path: "/api/v1/admin/users/{uuid}/unban", tag: "admin", summary: "Lift a ban (admins only)",
            description: "", request: None, data: Some("AdminUser"),
            responses: &[(200, "code 200: active again"), UNAUTH, (403, "code 403: not an admin"), (404, "code 404: no such account")],
            auth: true,
            params: &[("uuid", "path", "the account's public id")],
        },
        Op {
            method: "post", path: "/api/v1/admin/users/{uuid}/role", tag: "admin", summary: "Change an account's role (admins only)",
            description: "Not your own; the last active admin cannot be demoted.", request: Some("RoleRequest"), data: Some("AdminUser"),
            responses: &[(200, "code 200"), (400, "code 400: a bad role, or yourself"), UNAUTH, (403, "code 403: not an admin"), (404, "code 404: no such account"), (409, "code 409: the last active admin")],
            auth: true,
            params: &[("uuid", "path", "the account's public id")],
        },
        Op {
            method: "post", path: "/api/v1/admin/users/{uuid}/quota", tag: "admin", summary: "Set an account's daily task quota (admins only)",
            description: "`null` lifts the limit; it holds from the next submit.", request: Some("QuotaRequest"), data: Some("AdminUser"),
            responses: &[(200, "code 200"), (400, "code 400: not 0–100000 or null"), UNAUTH, (403, "code 403: not an admin"), (404, "code 404: no such account")],
            auth: true,
            params: &[("uuid", "path", "the account's public id")],
        },
        Op {
            method: "get", path: "/api/v1/admin/audit", tag: "admin", summary: "Read the audit log (admins only)",
            description: "Newest first, 50 a page: who did what to which account or thing, when and from which address.",
            request: None, data: Some("AuditPage"),
            responses: &[(200, "code 200"), (400, "code 400: a bad date (data.field)"), UNAUTH, (403, "code 403: not an admin")],
            auth: true,
            params: &[("action", "query", "one action, e.g. admin_ban or login_failed"), ("actor", "query", "username of who did it"), ("user", "query", "username of the account it was about"), ("ip", "query", "client address"), ("from", "query", "first day, YYYY-MM-DD (UTC)"), ("to", "query", "last day, YYYY-MM-DD (UTC), included"), ("kind", "query", "admin: what admins did to others only"), ("before", "query", "`next` of the previous page")],
        },
        Op {
            method: "get", path: "/api/v1/admin/moderation/words", tag: "admin", summary: "The moderation word lists (admins only)",
            description: "The shipped terms (when on), the configured ones, the admins' own, and how many prompts were refused today and in all.",
            request: None, data: Some("WordLists"),
            responses: &[(200, "code 200"), UNAUTH, (403, "code 403: not an admin")],
            auth: true, params: &[],
        },
        Op {
            method: "post", path: "/api/v1/admin/moderation/words", tag: "admin", summary: "Add terms to refuse in prompts (admins only)",
            description: "Matched ignoring width, case, spaces and punctuation between characters, and traditional/simplified forms; a term listed already in another form is skipped. Each added term is audited.",
            request: Some("NewWords"), data: Some("AddedWords"),
            responses: &[(200, "code 200"), (400, "code 400: bad lang, or a term empty, over 50 characters or with a separator (data.field)"), UNAUTH, (403, "code 403: not an admin")],
            auth: true, params: &[],
        },
        Op {
            method: "delete", path: "/api/v1/admin/moderation/words/{id}", tag: "admin", summary: "Remove one of the admins' terms (admins only)",
            description: "", request: None, data: None,
            responses: &[(200, "code 200"), UNAUTH, (403, "code 403: not an admin"), (404, "code 404: no such term")],
            auth: true, params: &[("id", "path", "the term's id")],
        },
    ];
    let mut paths = Map::new();
    for op in &ops {
        let entry = paths
            .entry(op.path.to_string())
            .or_insert_with(|| json!({}));
        entry[op.method] = operation(op);
    }
    let code = || json!({ "type": "string", "pattern": "^[0-9]{6}$", "description": "6-digit code from the mail" });
    let password = |d: &str| json!({ "type": "string", "format": "password", "minLength": 8, "description": d });
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "PictureDeck API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Every answer is the envelope {code, message, data}. HTTP status keeps its HTTP meaning; `code` follows the design document (seed 5.3). Send `Accept-Language: en` for English messages."
        },
        "paths": paths,
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT" } },
            "schemas": {
                "RegisterRequest": object(&["username", "email", "password"], &[
                    ("username", string("3–50 characters")), ("email", string("at most 255 characters")), ("password", password("letters and digits")),
                ]),
                "Registered": object(&[], &[
                    ("username", string("")), ("email", string("")), ("created_at", string("UTC, RFC 3339")),
                ]),
                "LoginRequest": object(&["username", "password"], &[("username", string("")), ("password", password(""))]),
                "LoggedIn": object(&[], &[
                    ("username", string("")), ("token", string("JWT for Authorization: Bearer")), ("token_expire_at", string("UTC, RFC 3339")),
                ]),
                "ForgotPasswordRequest": object(&["email"], &[("email", string("the account's address"))]),
                "ResetPasswordRequest": object(&["email", "verification_code", "new_password"], &[
                    ("email", string("")), ("verification_code", code()), ("new_password", password("")),
                ]),
                "ChangePasswordRequest": object(&["old_password", "new_password"], &[
                    ("old_password", password("")), ("new_password", password("")),
                ]),
                "EmailCodeRequest": object(&["new_email"], &[("new_email", string("the new address"))]),
                "ChangeEmailRequest": object(&["new_email", "verification_code"], &[
                    ("new_email", string("")), ("verification_code", code()),
                ]),
                "EmailView": object(&[], &[("email", string(""))]),
                "Sessions": object(&[], &[("sessions", json!({ "type": "array", "items": object(&[], &[
                    ("id", string("")), ("user_agent", string("")), ("ip", string("")),
                    ("created_at", string("UTC, RFC 3339")), ("last_seen_at", string("UTC, RFC 3339")),
                    ("current", json!({ "type": "boolean" })),
                ]) }))]),
                "NewTask": object(&["type"], &[
                    ("type", json!({ "type": "string", "enum": ["t2i", "i2i", "t2v", "i2v"] })),
                    ("prompt", string("at most 2000 characters; required for t2i and t2v")),
                    ("images", json!({ "type": "array", "items": { "type": "string" }, "description": "upload ids or their file_url" })),
                    ("model", string("provider/model from /models; default: the first that can do the type")),
                    ("params", json!({ "$ref": "#/components/schemas/Params" })),
                ]),
                "Params": object(&[], &[
                    ("size", string("WIDTHxHEIGHT, 64–2048 per side; or give aspect and/or resolution")),
                    ("aspect", string("W:H such as 16:9 (at most 4:1); images get a long edge of 1024, videos a short edge of 720 unless resolution says otherwise")),
                    ("resolution", json!({ "type": "string", "enum": ["480p", "720p", "1080p"], "description": "the short edge" })),
                    ("n", json!({ "type": "integer", "minimum": 1, "maximum": 4, "description": "results to make: one task each, consecutive seeds; the answer lists them in `batch`" })),
                    ("seed", json!({ "type": "integer", "minimum": 0 })),
                    ("negative_prompt", string("")),
                    ("style", string("i2i on the offline engine: oil_painting | watercolor | pencil_sketch | pixel_art | color_transfer")),
                    ("strength", json!({ "type": "number", "minimum": 0, "maximum": 1 })),
                    ("duration", json!({ "type": "integer", "minimum": 2, "maximum": 10, "description": "video seconds" })),
                ]),
                "Task": object(&[], &[
                    ("task_id", string("")), ("type", string("")), ("status", string("queued | processing | completed | failed | canceled")),
                    ("prompt", string("")), ("params", json!({ "$ref": "#/components/schemas/Params" })),
                    ("provider", string("")), ("model", string("")),
                    ("progress", json!({ "type": "integer", "minimum": 0, "maximum": 100 })),
                    ("queue_position", json!({ "type": "integer", "description": "tasks ahead, while queued" })),
                    ("error", object(&[], &[("code", string("")), ("message", string("in the request's language"))])),
                    ("result_url", string("signed, expiring")), ("thumbnail_url", string("signed, expiring WebP")),
                    ("mime", string("")), ("width", json!({ "type": "integer" })), ("height", json!({ "type": "integer" })),
                    ("attempts", json!({ "type": "integer" })),
                    ("batch", json!({ "type": "array", "items": { "type": "string" }, "description": "in the submit answer when n > 1: every task it made" })),
                    ("created_at", string("UTC")), ("started_at", string("UTC")), ("completed_at", string("UTC")),
                ]),
                "TaskPage": object(&[], &[
                    ("tasks", json!({ "type": "array", "items": { "$ref": "#/components/schemas/Task" } })),
                    ("next", json!({ "type": "string", "nullable": true })),
                ]),
                "Models": json!({ "type": "array", "items": object(&[], &[
                    ("id", string("provider/model")), ("provider", string("")), ("model", string("")), ("label", string("")),
                    ("kinds", json!({ "type": "array", "items": { "type": "string" } })),
                    ("offline", json!({ "type": "boolean", "description": "the built-in procedural engine, not AI" })),
                ]) }),
                "Uploaded": object(&[], &[
                    ("file_id", string("use in `images`")), ("file_url", string("signed, expiring")),
                    ("mime", string("")), ("width", json!({ "type": "integer" })), ("height", json!({ "type": "integer" })),
                ]),
                "Result": json!({ "allOf": [ { "$ref": "#/components/schemas/Task" }, object(&[], &[
                    ("favorite", json!({ "type": "boolean" })),
                    ("tags", json!({ "type": "array", "items": { "type": "string" } })),
                    ("folder", object(&[], &[("id", string("")), ("name", string(""))])),
                ]) ] }),
                "ResultPage": object(&[], &[
                    ("results", json!({ "type": "array", "items": { "$ref": "#/components/schemas/Result" } })),
                    ("next", json!({ "type": "string", "nullable": true })),
                ]),
                "Ids": object(&["ids"], &[("ids", json!({ "type": "array", "items": { "type": "string" }, "maxItems": 500 }))]),
                "Count": object(&[], &[("count", json!({ "type": "integer" }))]),
                "MoveRequest": object(&["ids"], &[
                    ("ids", json!({ "type": "array", "items": { "type": "string" } })),
                    ("folder", json!({ "type": "string", "nullable": true })),
                ]),
                "FavoriteRequest": object(&["favorite"], &[("favorite", json!({ "type": "boolean" }))]),
                "TagsRequest": object(&["tags"], &[("tags", json!({ "type": "array", "items": { "type": "string" } }))]),
                "NewFolder": object(&["name"], &[("name", string("1–100 characters")), ("parent", string("parent folder id"))]),
                "FolderChange": object(&[], &[("name", string("")), ("parent", string("folder id, or \"\" for the top level"))]),
                "Folder": object(&[], &[
                    ("id", string("")), ("name", string("")), ("parent", string("")),
                    ("count", json!({ "type": "integer", "description": "results directly inside" })),
                    ("children", json!({ "type": "array", "items": { "$ref": "#/components/schemas/Folder" } })),
                ]),
                "FolderTree": json!({ "type": "array", "items": { "$ref": "#/components/schemas/Folder" } }),
                "NewShare": object(&[], &[
                    ("result", string("a result id, or")), ("folder", string("a folder id")),
                    ("expires_in_hours", json!({ "type": "integer", "minimum": 1, "maximum": 8760 })),
                    ("password", string("optional")),
                ]),
                "Share": object(&[], &[
                    ("id", string("")), ("url", string("/s/{token}")), ("kind", string("result | folder")), ("target", string("")),
                    ("has_password", json!({ "type": "boolean" })), ("expires_at", string("UTC")),
                    ("views", json!({ "type": "integer" })), ("created_at", string("UTC")),
                ]),
                "Shares": json!({ "type": "array", "items": { "$ref": "#/components/schemas/Share" } }),
                "Imported": object(&[], &[("imported", json!({ "type": "integer" })), ("skipped", json!({ "type": "integer" }))]),
                "AdminUserPage": object(&[], &[
                    ("users", json!({ "type": "array", "items": { "$ref": "#/components/schemas/AdminUser" } })),
                    ("next", json!({ "type": "string", "nullable": true, "description": "`before` of the next page" })),
                ]),
                "AdminUser": object(&[], &[
                    ("uuid", string("public id")), ("username", string("")), ("email", string("")),
                    ("role", string("user | admin")), ("status", string("active | banned")),
                    ("ban_reason", json!({ "type": "string", "nullable": true })), ("created_at", string("UTC, RFC 3339")),
                    ("last_login_at", json!({ "type": "string", "nullable": true, "description": "UTC, RFC 3339" })),
                    ("results", json!({ "type": "integer", "description": "finished results kept" })),
                    ("tasks_today", json!({ "type": "integer", "description": "tasks submitted today (UTC)" })),
                    ("daily_quota", json!({ "type": "integer", "nullable": true, "description": "tasks per day; null: no limit" })),
                    ("storage_bytes", json!({ "type": "integer" })), ("storage", string("the same for people, e.g. 12.3 MiB")),
                ]),
                "BanRequest": object(&[], &[("reason", string("shown to the account's owner; at most 500 characters"))]),
                "RoleRequest": object(&["role"], &[("role", string("user | admin"))]),
                "QuotaRequest": object(&["daily_quota"], &[("daily_quota", json!({ "type": "integer", "nullable": true, "minimum": 0, "maximum": 100000 }))]),
                "WordLists": object(&[], &[
                    ("prompt_check", json!({ "type": "boolean" })),
                    ("shipped_zh", json!({ "type": "array", "items": { "type": "string" } })),
                    ("shipped_en", json!({ "type": "array", "items": { "type": "string" } })),
                    ("shipped_total", json!({ "type": "integer" })),
                    ("configured", json!({ "type": "array", "items": { "type": "string" } })),
                    ("words", json!({ "type": "array", "items": { "$ref": "#/components/schemas/Word" } })),
                    ("refused_today", json!({ "type": "integer" })), ("refused_total", json!({ "type": "integer" })),
                ]),
                "Word": object(&[], &[
                    ("id", string("")), ("word", string("")), ("lang", string("zh | en")),
                    ("added_by", json!({ "type": "string", "nullable": true })), ("created_at", string("UTC, RFC 3339")),
                ]),
                "NewWords": object(&["words", "lang"], &[
                    ("words", json!({ "type": "array", "maxItems": 200, "items": { "type": "string", "maxLength": 50 } })),
                    ("lang", string("zh | en")),
                ]),
                "AddedWords": object(&[], &[
                    ("added", json!({ "type": "array", "items": { "type": "string" } })),
                    ("skipped", json!({ "type": "array", "items": { "type": "string" }, "description": "listed already" })),
                ]),
                "AuditPage": object(&[], &[
                    ("entries", json!({ "type": "array", "items": { "$ref": "#/components/schemas/AuditEntry" } })),
                    ("next", json!({ "type": "string", "nullable": true, "description": "`before` of the next page" })),
                    ("actions", json!({ "type": "array", "items": { "type": "string" }, "description": "every action the log holds" })),
                ]),
                "AuditEntry": object(&[], &[
                    ("id", string("public id")), ("action", string("")), ("actor", json!({ "type": "string", "nullable": true, "description": "who did it" })),
                    ("user", json!({ "type": "string", "nullable": true, "description": "the account it was about" })),
                    ("target", json!({ "type": "string", "nullable": true })), ("detail", json!({ "type": "string", "nullable": true })),
                    ("ip", json!({ "type": "string", "nullable": true })), ("created_at", string("UTC, RFC 3339")),
                ]),
                "User": object(&[], &[
                    ("uuid", string("public id")), ("username", string("")), ("email", string("")),
                    ("role", string("user | admin")), ("status", string("active | banned")), ("created_at", string("UTC, RFC 3339")),
                ]),
            }
        }
    })
}
