//! The model catalogue and cost (issue 13 items 2 and 6), against the OpenAI and DashScope
//! fakes on both backends: `GET /models` states each model's capabilities and price; what a
//! model cannot do is a 400 naming the field, with no vendor call and no task; the estimate
//! is the catalogue's price; a monthly budget refuses the submit past it (402); failed and
//! canceled tasks are refunded exactly once, also under concurrent cancels, and a retry is
//! charged again; the library and the statistics show the cost. The generation form follows
//! the picked model in Chromium at a laptop and a phone size.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::providers::upload_sample;
use crate::support::fakes::{Answer, FakeVendor};
use crate::support::webdriver::{chromedriver, screenshot_dir, Browser, WINDOWS};
use crate::support::{Backend, TestApp};
use crate::vendors::{app_with, provider};

const GPT: &str = "openai/gpt-image-1";
const WAN: &str = "wan/wan2.5-t2v-preview";

/// The app with a priced OpenAI model that declares narrower capabilities than its kind's,
/// and a priced Wan video model, beside the offline engine.
async fn priced_app(backend: Backend, openai: &FakeVendor, wan: &FakeVendor) -> Option<TestApp> {
    app_with(
        backend,
        vec![
            provider(
                "openai",
                "openai",
                openai.url.clone(),
                "sk-test",
                json!([{"name": "gpt-image-1", "label": "GPT Image", "kinds": ["t2i", "i2i"],
                        "price_per_image": 0.04,
                        "capabilities": {"max_n": 2, "max_references": 1,
                                         "aspects": ["1:1", "3:2", "2:3"],
                                         "sizes": ["1024x1024", "1536x1024", "1024x1536"]}}]),
            ),
            provider(
                "wan",
                "dashscope",
                wan.url.clone(),
                "sk-wan",
                json!([{"name": "wan2.5-t2v-preview", "kinds": ["t2v"],
                        "price_per_video_second": 0.5,
                        "capabilities": {"resolutions": ["720p", "1080p"]}}]),
            ),
        ],
    )
    .await
}

/// A picture on the OpenAI model.
fn gpt(prompt: &str, n: u32) -> Value {
    json!({"type": "t2i", "prompt": prompt, "model": GPT, "params": {"n": n}})
}

async fn estimate(app: &TestApp, token: &str, body: Value) -> Value {
    let (status, answer) = app.post("/api/v1/models/estimate", Some(token), body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer["data"].clone()
}

/// The caller's charges this month, refunds taken off, as the estimate reports them.
async fn spent(app: &TestApp, token: &str) -> f64 {
    let e = estimate(app, token, gpt("", 1)).await;
    e["budget"]["spent"].as_f64().expect("a budget is set")
}

/// Sets `user`'s monthly budget through the admin API; the account's row.
async fn set_budget(app: &TestApp, admin: &str, user: &str, budget: Value) -> Value {
    let (_, list) = app
        .get(&format!("/api/v1/admin/users?q={user}"), Some(admin))
        .await;
    let uuid = list["data"]["users"][0]["uuid"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, row) = app
        .post(
            &format!("/api/v1/admin/users/{uuid}/budget"),
            Some(admin),
            json!({ "monthly_budget": budget }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{row}");
    row["data"].clone()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

crate::both!(
    models_state_capabilities_and_prices,
    what_a_model_cannot_do_is_a_400_with_the_field_and_no_vendor_call,
    the_estimate_is_the_catalogue_price,
    a_monthly_budget_refuses_the_submit_past_it,
    failed_and_canceled_tasks_are_refunded_exactly_once,
    the_library_and_the_statistics_show_the_cost,
);

async fn models_state_capabilities_and_prices(backend: Backend) {
    let (openai, wan) = (FakeVendor::openai().await, FakeVendor::dashscope().await);
    let Some(app) = priced_app(backend, &openai, &wan).await else {
        return;
    };
    let token = app.user("cat").await;
    let (status, body) = app.get("/api/v1/models", Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let models = body["data"].as_array().unwrap();
    let find = |id: &str| models.iter().find(|m| m["id"] == id).unwrap().clone();
    // The offline engine keeps everything it did: every type, seed, negative prompt, its
    // filters with a strength, 2–5 s clips of 3 s by default, four results at once.
    let local = find("local/procedural");
    let caps = &local["capabilities"];
    assert_eq!(local["kinds"], json!(["t2i", "i2i", "t2v", "i2v"]));
    assert_eq!(caps["durations"], json!([2, 3, 4, 5]), "{local}");
    assert_eq!(caps["default_duration"], 3);
    assert_eq!(
        (
            caps["seed"].as_bool(),
            caps["negative_prompt"].as_bool(),
            caps["strength"].as_bool()
        ),
        (Some(true), Some(true), Some(true))
    );
    assert_eq!(caps["styles"].as_array().unwrap().len(), 5);
    assert_eq!(
        (caps["max_n"].as_u64(), caps["max_references"].as_u64()),
        (Some(4), Some(3))
    );
    assert_eq!(
        local["price"],
        json!({"per_image": null, "per_video_second": null, "currency": "CNY"})
    );
    // OpenAI Images: no seed or negative prompt by its kind; the entry narrows the rest.
    let gpt = find(GPT);
    let caps = &gpt["capabilities"];
    assert_eq!(
        (caps["seed"].as_bool(), caps["negative_prompt"].as_bool()),
        (Some(false), Some(false))
    );
    assert_eq!(caps["aspects"], json!(["1:1", "3:2", "2:3"]));
    assert_eq!(
        (caps["max_n"].as_u64(), caps["max_references"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(gpt["price"]["per_image"], 0.04);
    // Wan: 5 or 10 s (5 by default), the resolutions the entry names, a price per second.
    let wan_model = find(WAN);
    let caps = &wan_model["capabilities"];
    assert_eq!(caps["durations"], json!([5, 10]));
    assert_eq!(caps["default_duration"], 5);
    assert_eq!(caps["resolutions"], json!(["720p", "1080p"]));
    assert_eq!(wan_model["price"]["per_video_second"], 0.5);
    app.stop().await;
    openai.stop().await;
    wan.stop().await;
}

async fn what_a_model_cannot_do_is_a_400_with_the_field_and_no_vendor_call(backend: Backend) {
    let (openai, wan) = (FakeVendor::openai().await, FakeVendor::dashscope().await);
    let Some(app) = priced_app(backend, &openai, &wan).await else {
        return;
    };
    let token = app.user("refused").await;
    let (a, b) = (
        upload_sample(&app, &token).await,
        upload_sample(&app, &token).await,
    );
    let i2i = |params: Value, images: Vec<&String>| json!({"type": "i2i", "prompt": "油画", "model": GPT, "images": images, "params": params});
    let t2v =
        |params: Value| json!({"type": "t2v", "prompt": "海浪", "model": WAN, "params": params});
    let cases = [
        (
            json!({"type": "t2i", "prompt": "灯塔", "model": GPT, "params": {"seed": 7}}),
            "params.seed",
            "随机种子",
            "does not take a seed",
        ),
        (
            json!({"type": "t2i", "prompt": "灯塔", "model": GPT, "params": {"negative_prompt": "模糊"}}),
            "params.negative_prompt",
            "反向提示词",
            "negative prompt",
        ),
        (gpt("灯塔", 3), "params.n", "这么多张", "that many results"),
        (
            json!({"type": "t2i", "prompt": "灯塔", "model": GPT, "params": {"aspect": "16:9"}}),
            "params.aspect",
            "画面比例",
            "aspect ratio",
        ),
        (
            json!({"type": "t2i", "prompt": "灯塔", "model": GPT, "params": {"size": "512x512"}}),
            "params.size",
            "尺寸",
            "size",
        ),
        (
            i2i(json!({"strength": 0.5}), vec![&a]),
            "params.strength",
            "强度",
            "strength",
        ),
        (
            i2i(json!({}), vec![&a, &b]),
            "images",
            "参考图",
            "reference images",
        ),
        (
            t2v(json!({"duration": 7})),
            "params.duration",
            "时长",
            "video length",
        ),
        (
            t2v(json!({"resolution": "480p"})),
            "params.resolution",
            "分辨率",
            "resolution",
        ),
        (
            json!({"type": "i2i", "prompt": "", "images": [&a], "params": {"style": "cubism"}}),
            "params.style",
            "风格",
            "style",
        ),
    ];
    for (body, field, zh, en) in cases {
        let (status, answer) = app
            .post("/api/v1/generation", Some(&token), body.clone())
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert_eq!(
            (answer["code"].as_u64(), answer["data"]["field"].as_str()),
            (Some(400), Some(field)),
            "{answer}"
        );
        assert!(answer["message"].as_str().unwrap().contains(zh), "{answer}");
        let english: Value = reqwest::Client::new()
            .post(app.at("/api/v1/generation"))
            .bearer_auth(&token)
            .header("Accept-Language", "en")
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(
            english["message"].as_str().unwrap().contains(en),
            "{english}"
        );
        // The estimate refuses the same way.
        let (status, answer) = app
            .post("/api/v1/models/estimate", Some(&token), body)
            .await;
        assert_eq!(
            (status, answer["data"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some(field)),
            "{answer}"
        );
    }
    // Nothing was queued, so nothing reached a vendor.
    let (_, tasks) = app.get("/api/v1/generation", Some(&token)).await;
    assert_eq!(tasks["data"]["tasks"], json!([]), "{tasks}");
    assert!(openai.seen().is_empty() && wan.seen().is_empty());
    // What the models can do still passes: one reference with no strength, 10 s in 1080p.
    let ok = app.submit(&token, i2i(json!({}), vec![&a])).await;
    assert_eq!(
        app.wait_final(&token, ok["task_id"].as_str().unwrap())
            .await["data"]["status"],
        "completed"
    );
    let video = app
        .submit(&token, t2v(json!({"duration": 10, "resolution": "1080p"})))
        .await;
    assert_eq!(video["params"]["duration"], 10);
    // A model without seeds gets none chosen for it; one without a length asked gets its default.
    assert!(ok["params"]["seed"].is_null(), "{ok}");
    let default_length = app.submit(&token, t2v(json!({}))).await;
    assert_eq!(default_length["params"]["duration"], 5, "{default_length}");
    app.stop().await;
    openai.stop().await;
    wan.stop().await;
}

async fn the_estimate_is_the_catalogue_price(backend: Backend) {
    let (openai, wan) = (FakeVendor::openai().await, FakeVendor::dashscope().await);
    let Some(app) = priced_app(backend, &openai, &wan).await else {
        return;
    };
    let token = app.user("estimates").await;
    let e = estimate(&app, &token, gpt("", 2)).await;
    assert_eq!(
        (
            e["model"].as_str(),
            e["count"].as_u64(),
            e["currency"].as_str()
        ),
        (Some(GPT), Some(2), Some("CNY"))
    );
    assert!(
        close(e["per_task"].as_f64().unwrap(), 0.04) && close(e["total"].as_f64().unwrap(), 0.08),
        "{e}"
    );
    assert!(
        e["budget"].is_null() && e["within_budget"] == true,
        "no budget: {e}"
    );
    // Videos: seconds × price, the model's default length when none is asked.
    let e = estimate(
        &app,
        &token,
        json!({"type": "t2v", "model": WAN, "params": {"duration": 10, "n": 3}}),
    )
    .await;
    assert!(
        close(e["per_task"].as_f64().unwrap(), 5.0) && close(e["total"].as_f64().unwrap(), 15.0),
        "{e}"
    );
    let e = estimate(&app, &token, json!({"type": "t2v", "model": WAN})).await;
    assert_eq!(e["duration"], 5);
    assert!(close(e["total"].as_f64().unwrap(), 2.5), "{e}");
    // The offline engine has no price: nothing to pay.
    let e = estimate(&app, &token, json!({"type": "t2i"})).await;
    assert_eq!(
        (e["model"].as_str(), e["total"].is_null()),
        (Some("local/procedural"), true),
        "{e}"
    );
    // The estimate agrees with what a submit is charged.
    let made = app.submit(&token, gpt("灯塔", 2)).await;
    app.wait_completed(&token, &[made["task_id"].as_str().unwrap().to_string()])
        .await;
    let (_, lib) = app.get("/api/v1/library/results", Some(&token)).await;
    let costs: Vec<f64> = lib["data"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["cost"]["amount"].as_f64().unwrap())
        .collect();
    assert_eq!(costs, vec![0.04, 0.04], "{lib}");
    app.stop().await;
    openai.stop().await;
    wan.stop().await;
}

async fn a_monthly_budget_refuses_the_submit_past_it(backend: Backend) {
    let (openai, wan) = (FakeVendor::openai().await, FakeVendor::dashscope().await);
    let Some(app) = priced_app(backend, &openai, &wan).await else {
        return;
    };
    let admin = app.admin("boss").await;
    let token = app.user("spender").await;
    let row = set_budget(&app, &admin, "spender", json!(0.1)).await;
    assert_eq!(
        (
            row["monthly_budget"].as_f64(),
            row["spent_this_month"].as_f64()
        ),
        (Some(0.1), Some(0.0)),
        "{row}"
    );
    let first = app.submit(&token, gpt("一", 2)).await;
    let ids: Vec<String> = first["batch"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    app.wait_completed(&token, &ids).await;
    let calls = openai.seen().len();
    // 0.08 spent: one more picture (0.12) is over 0.10.
    let e = estimate(&app, &token, gpt("", 1)).await;
    assert_eq!(e["within_budget"], false, "{e}");
    assert!(close(e["budget"]["left"].as_f64().unwrap(), 0.02), "{e}");
    let (status, answer) = app
        .post("/api/v1/generation", Some(&token), gpt("二", 1))
        .await;
    assert_eq!(
        (status, answer["code"].as_u64()),
        (StatusCode::PAYMENT_REQUIRED, Some(402)),
        "{answer}"
    );
    assert!(
        answer["message"].as_str().unwrap().contains("预算"),
        "{answer}"
    );
    // Free models still run; nothing more reached the paid vendor.
    app.submit(
        &token,
        json!({"type": "t2i", "prompt": "免费", "params": {"size": "64x64"}}),
    )
    .await;
    assert_eq!(openai.seen().len(), calls);
    // The admin list shows the month's spending; lifting the budget lets the submit through.
    let (_, list) = app.get("/api/v1/admin/users?q=spender", Some(&admin)).await;
    let listed = &list["data"]["users"][0];
    assert!(
        close(listed["spent_this_month"].as_f64().unwrap(), 0.08),
        "{listed}"
    );
    // The studio's cost line says so before a submit.
    let (user_page, _) = app.signed_in("spender").await;
    let (_, line) = app
        .open(
            &user_page,
            &format!("/generate/estimate?type=t2i&model={GPT}&n=1"),
        )
        .await;
    assert!(
        line.contains("id=\"cost-over\"") && line.contains("0.02 CNY / 0.10 CNY"),
        "{line}"
    );
    // The admin page's form sets the budget as the API does; empty lifts it.
    let (boss, csrf) = app.signed_in("boss").await;
    let uuid = listed["uuid"].as_str().unwrap();
    let res = app
        .post_form(
            &boss,
            &csrf,
            &format!("/admin/users/{uuid}/budget"),
            &[("monthly_budget", "0.5")],
        )
        .await;
    let row = res.text().await.unwrap();
    assert!(
        row.contains("id=\"budget-spender\"") && row.contains("value=\"0.5\""),
        "{row}"
    );
    let e = estimate(&app, &token, gpt("", 1)).await;
    assert_eq!(
        (e["within_budget"].as_bool(), e["budget"]["limit"].as_f64()),
        (Some(true), Some(0.5)),
        "{e}"
    );
    let res = app
        .post_form(
            &boss,
            &csrf,
            &format!("/admin/users/{uuid}/budget"),
            &[("monthly_budget", "")],
        )
        .await;
    assert!(res.text().await.unwrap().contains("placeholder=\"∞\""));
    assert!(estimate(&app, &token, gpt("", 1)).await["budget"].is_null());
    app.submit(&token, gpt("二", 1)).await;
    app.stop().await;
    openai.stop().await;
    wan.stop().await;
}

async fn failed_and_canceled_tasks_are_refunded_exactly_once(backend: Backend) {
    let (openai, wan) = (FakeVendor::openai().await, FakeVendor::dashscope().await);
    let Some(app) = priced_app(backend, &openai, &wan).await else {
        return;
    };
    let admin = app.admin("boss").await;
    let token = app.user("refunds").await;
    set_budget(&app, &admin, "refunds", json!(100)).await;
    // A permanent failure (bad key): refunded by the engine.
    openai.script([Answer::Status {
        status: 401,
        body: r#"{"error":{"message":"bad key"}}"#.into(),
        retry_after: None,
    }]);
    let failed = app.submit_task(&token, gpt("失败", 1)).await;
    assert_eq!(
        app.wait_final(&token, &failed).await["data"]["status"],
        "failed"
    );
    assert!(close(spent(&app, &token).await, 0.0));
    // A retry is a new task, charged again (and it works this time).
    let (status, again) = app.task_action(&token, &failed, "retry").await;
    assert_eq!(status, StatusCode::OK, "{again}");
    let again = again["data"]["task_id"].as_str().unwrap().to_string();
    assert_eq!(
        app.wait_final(&token, &again).await["data"]["status"],
        "completed"
    );
    assert!(close(spent(&app, &token).await, 0.04));
    // Queued tasks canceled by many requests at once: one cancel wins per task, one refund each.
    app.stop_engine();
    let mut ids = Vec::new();
    for i in 0..3 {
        let made = app.submit(&token, gpt(&format!("取消 {i}"), 2)).await;
        ids.extend(
            made["batch"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string()),
        );
    }
    assert!(close(spent(&app, &token).await, 0.04 * 7.0));
    let cancels = ids
        .iter()
        .flat_map(|id| std::iter::repeat_n(id.clone(), 4))
        .map(|id| {
            let (app, token) = (&app, &token);
            async move { app.task_action(token, &id, "cancel").await.0 }
        });
    let answers = futures_util::future::join_all(cancels).await;
    let won = answers.iter().filter(|s| **s == StatusCode::OK).count();
    let lost = answers
        .iter()
        .filter(|s| **s == StatusCode::CONFLICT)
        .count();
    assert_eq!((won, lost), (ids.len(), ids.len() * 3), "{answers:?}");
    assert!(
        close(spent(&app, &token).await, 0.04),
        "only the retried task stays charged"
    );
    let (_, lib) = app
        .get("/api/v1/library/results?status=canceled", Some(&token))
        .await;
    for r in lib["data"]["results"].as_array().unwrap() {
        assert_eq!(
            (
                r["cost"]["refunded"].as_bool(),
                r["cost"]["amount"].as_f64()
            ),
            (Some(true), Some(0.04)),
            "{r}"
        );
    }
    let (_, lib) = app
        .get("/api/v1/library/results?status=failed", Some(&token))
        .await;
    assert_eq!(lib["data"]["results"][0]["cost"]["refunded"], true, "{lib}");
    app.stop().await;
    openai.stop().await;
    wan.stop().await;
}

async fn the_library_and_the_statistics_show_the_cost(backend: Backend) {
    let (openai, wan) = (FakeVendor::openai().await, FakeVendor::dashscope().await);
    let Some(app) = priced_app(backend, &openai, &wan).await else {
        return;
    };
    let admin = app.admin("boss").await;
    let token = app.user("costly").await;
    let id = app.submit_task(&token, gpt("账单", 1)).await;
    app.wait_completed(&token, std::slice::from_ref(&id)).await;
    let (_, one) = app
        .get(&format!("/api/v1/library/results/{id}"), Some(&token))
        .await;
    assert_eq!(
        one["data"]["cost"],
        json!({"amount": 0.04, "currency": "CNY", "refunded": false, "shown": "0.04 CNY"}),
        "{one}"
    );
    let (client, _) = app.signed_in("costly").await;
    let (_, page) = app.open(&client, "/library").await;
    assert!(
        page.contains(&format!("id=\"cost-{id}\"")) && page.contains("0.04 CNY"),
        "the library grid shows the cost"
    );
    let (_, page) = app.open(&client, &format!("/library/{id}")).await;
    assert!(page.contains("0.04 CNY"), "the detail page shows the cost");
    let (_, stats) = app.get("/api/v1/admin/stats", Some(&admin)).await;
    let model = stats["data"]["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["provider"] == "openai")
        .unwrap()
        .clone();
    assert!(close(model["cost"].as_f64().unwrap(), 0.04), "{model}");
    let user = stats["data"]["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["user"] == "costly")
        .unwrap()
        .clone();
    assert!(close(user["cost"].as_f64().unwrap(), 0.04), "{user}");
    let (_, page) = app
        .open(&app.signed_in("boss").await.0, "/admin/stats")
        .await;
    assert!(
        page.contains("0.04 CNY"),
        "the statistics page shows the cost"
    );
    app.stop().await;
    openai.stop().await;
    wan.stop().await;
}

/// The form in Chromium: picking the OpenAI model hides the seed and the negative prompt with a
/// note, offers only its aspect ratios and counts, and shows the estimate as the count changes;
/// back on the offline engine everything is there again and the estimate says it is free.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_form_follows_the_model_and_shows_the_estimate() {
    let Some(driver) = chromedriver() else { return };
    let (openai, wan) = (FakeVendor::openai().await, FakeVendor::dashscope().await);
    let app = priced_app(Backend::Sqlite, &openai, &wan).await.unwrap();
    app.user("former").await;
    let shots = screenshot_dir();
    let b = Browser::start(&driver).await;
    b.sign_in(&app, "former").await;
    let shown = |css: &'static str| {
        format!("const e = document.querySelector({css:?}); return !!e && e.offsetParent !== null;")
    };
    for (name, w, h) in WINDOWS {
        b.window(w, h).await;
        b.goto(&app.at("/")).await;
        b.wait_for_text("#cost", "未设定价格").await;
        assert_eq!(
            b.script(&shown("#seed")).await,
            json!(true),
            "the offline engine takes a seed"
        );
        b.select("#model", GPT).await;
        b.wait_for_text("#cost-total", "0.04 CNY").await;
        assert_eq!(
            b.script(&shown("#seed")).await,
            json!(false),
            "{name}: GPT Image takes no seed"
        );
        assert_eq!(
            b.script(&shown("[name=negative_prompt]")).await,
            json!(false)
        );
        let note = b.wait_for_text("#cap-note", "种子").await;
        assert!(note.contains("反向提示词"), "{note}");
        let aspects = b.script("return [...document.querySelectorAll('#aspect option')].map(o => o.value).filter(Boolean);").await;
        assert_eq!(aspects, json!(["1:1", "3:2", "2:3"]));
        assert_eq!(b.count("#count option").await, 2);
        b.select("#count", "2").await;
        b.wait_for_text("#cost-total", "0.08 CNY").await;
        b.screenshot(&shots.join(format!("catalogue-gpt-{name}.png")))
            .await;
        // A video model: its lengths, priced per second, for the two results still asked.
        b.click("#mode-t2v").await;
        b.select("#model", WAN).await;
        b.select("#duration", "10").await;
        b.wait_for_text("#cost-total", "10.00 CNY").await;
        b.wait_for_text("#cost", "2 × 5.00 CNY").await;
        let lengths = b
            .script("return [...document.querySelectorAll('#duration option')].map(o => o.value);")
            .await;
        assert_eq!(lengths, json!(["5", "10"]));
        b.screenshot(&shots.join(format!("catalogue-wan-{name}.png")))
            .await;
        b.click("#mode-t2i").await;
        b.select("#model", "local/procedural").await;
        b.wait_for_text("#cost", "未设定价格").await;
        assert_eq!(b.script(&shown("#seed")).await, json!(true));
        assert_eq!(
            b.script("return document.getElementById('cap-note').hidden;")
                .await,
            json!(true)
        );
    }
    b.quit().await;
    app.stop().await;
    openai.stop().await;
    wan.stop().await;
}
