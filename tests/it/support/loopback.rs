//! What every loopback fake shares: its server on a free port, the queue of scripted replies a
//! test fills and the fake takes from, and the canned status reply (a status, `Retry-After`
//! when asked, a JSON body).

use std::collections::VecDeque;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};

/// Serves the routes `configure` sets up on a free loopback port with one worker; returns the
/// base URL and the handle that stops the server.
pub fn serve(
    configure: impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
) -> (String, actix_web::dev::ServerHandle) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = HttpServer::new(move || App::new().configure(configure.clone()))
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
    let handle = server.handle();
    tokio::spawn(server);
    (url, handle)
}

/// Routes for a fake that answers every path with `handler`, `state` as its data.
pub fn every_path<S, Args>(
    state: S,
    handler: impl actix_web::Handler<Args, Output = HttpResponse> + Send,
) -> impl Fn(&mut web::ServiceConfig) + Clone + Send
where
    S: Send + Sync + 'static,
    Args: actix_web::FromRequest + 'static,
{
    let data = web::Data::new(state);
    move |app| {
        app.app_data(data.clone())
            .default_service(web::to(handler.clone()));
    }
}

/// A fake's queue of scripted replies: the test appends, each call the reply is for takes the
/// next one; empty, the fake answers as its contract says.
pub struct Script<R>(Arc<Mutex<VecDeque<R>>>);

impl<R> Default for Script<R> {
    fn default() -> Self {
        Script(Arc::default())
    }
}

impl<R> Clone for Script<R> {
    fn clone(&self) -> Self {
        Script(self.0.clone())
    }
}

impl<R> Script<R> {
    pub fn extend(&self, replies: impl IntoIterator<Item = R>) {
        self.0.lock().unwrap().extend(replies);
    }

    /// The next scripted reply, if any.
    pub fn pop(&self) -> Option<R> {
        self.0.lock().unwrap().pop_front()
    }
}

/// A scripted status reply: `status` with `body` as JSON, and `Retry-After` when given.
pub fn canned(status: u16, body: impl Into<String>, retry_after: Option<u64>) -> HttpResponse {
    let mut res = HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap());
    if let Some(secs) = retry_after {
        res.insert_header(("retry-after", secs.to_string()));
    }
    res.content_type("application/json").body(body.into())
}

/// A request header's value, when it has one that is text.
pub fn header(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}
