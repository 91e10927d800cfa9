//! A small W3C WebDriver client (the calls the desktop suite needs), spoken over HTTP to
//! tauri-driver, which hands them to WebKitWebDriver driving the app's real webview.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The W3C key for an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct WebDriver {
    http: reqwest::Client,
    base: String,
}

#[derive(Debug, Clone)]
pub struct Element(String);

/// WebDriver's Tab key.
pub const TAB: &str = "\u{E004}";
/// WebDriver's Enter key.
pub const ENTER: &str = "\u{E007}";
/// WebDriver's Control, Alt and arrow keys.
pub const CONTROL: &str = "\u{E009}";
pub const ALT: &str = "\u{E00A}";
pub const ARROW_LEFT: &str = "\u{E012}";
pub const ARROW_RIGHT: &str = "\u{E014}";

impl WebDriver {
    /// Opens a session that launches `application` (the app binary).
    pub async fn launch(driver: &str, application: &std::path::Path) -> Self {
        // No WebDriver call may hang a test: each gets a minute at most.
        let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "wry",
            "tauri:options": {"application": application.display().to_string()}
        }}});
        let mut last = String::new();
        for _ in 0..100 {
            match http.post(format!("{driver}/session")).json(&caps).send().await {
                Ok(resp) => {
                    let body: Value = resp.json().await.unwrap_or(Value::Null);
                    if let Some(id) = body["value"]["sessionId"].as_str() {
                        return Self { http, base: format!("{driver}/session/{id}") };
                    }
                    last = body.to_string();
                }
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("no WebDriver session: {last}");
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        req = req.json(&body.unwrap_or_else(|| json!({})));
        let resp = req.send().await.unwrap_or_else(|e| panic!("WebDriver {path}: {e}"));
        let value: Value = resp.json().await.unwrap_or(Value::Null);
        value["value"].clone()
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    /// The first element matching `css`, if any now.
    ///
    /// A find is asked again when it is left unanswered for 15 s. Once in a while on CI,
    /// WebKitWebDriver has left one unanswered right after a link brought the window forward,
    /// although the app had answered the link. A find changes nothing, so asking again is safe.
    /// A driver or app that stays stuck still fails the test, after three attempts.
    pub async fn find(&self, css: &str) -> Option<Element> {
        let body = json!({"using": "css selector", "value": css});
        let url = format!("{}/element", self.base);
        for attempt in 1..=3 {
            match self.http.post(&url).json(&body).timeout(Duration::from_secs(15)).send().await {
                Ok(resp) => {
                    let v: Value = resp.json().await.unwrap_or(Value::Null);
                    return v["value"][ELEMENT].as_str().map(|id| Element(id.to_owned()));
                }
                Err(e) if e.is_timeout() && attempt < 3 => {
                    eprintln!("WebDriver /element ({css}) unanswered for 15 s, attempt {attempt}: asking again");
                }
                Err(e) => panic!("WebDriver /element ({css}), attempt {attempt}: {e}"),
            }
        }
        None
    }

    /// Waits up to `timeout` for `css` to appear.
    pub async fn wait_for(&self, css: &str, timeout: Duration) -> Element {
        let start = Instant::now();
        loop {
            if let Some(e) = self.find(css).await {
                return e;
            }
            assert!(start.elapsed() < timeout, "{css} did not appear within {timeout:?}");
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// Waits up to `timeout` for `script` (a function body returning a value) to return truthy.
    pub async fn wait_until(&self, what: &str, script: &str, timeout: Duration) -> Value {
        let start = Instant::now();
        loop {
            let v = self.execute(script, json!([])).await;
            if !(v.is_null() || v == json!(false) || v == json!(0) || v == json!("")) {
                return v;
            }
            assert!(start.elapsed() < timeout, "{what}: not within {timeout:?} (last: {v})");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    pub async fn click(&self, e: &Element) {
        self.post(&format!("/element/{}/click", e.0), json!({})).await;
    }

    pub async fn clear(&self, e: &Element) {
        self.post(&format!("/element/{}/clear", e.0), json!({})).await;
    }

    pub async fn type_into(&self, e: &Element, text: &str) {
        self.post(&format!("/element/{}/value", e.0), json!({"text": text})).await;
    }

    /// Presses and releases each key in turn, as a keyboard would, wherever the focus is.
    /// Keys are WebDriver's code points: `TAB`, `ENTER`, or a character.
    pub async fn press(&self, keys: &[&str]) {
        let actions: Vec<Value> = keys
            .iter()
            .flat_map(|k| [json!({"type": "keyDown", "value": k}), json!({"type": "keyUp", "value": k})])
            .collect();
        self.post("/actions", json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]})).await;
    }

    /// Presses the keys together, as a shortcut: each down in order, then up in reverse
    /// (`&[CONTROL, "n"]` is Ctrl+N).
    pub async fn chord(&self, keys: &[&str]) {
        let downs = keys.iter().map(|k| json!({"type": "keyDown", "value": k}));
        let ups = keys.iter().rev().map(|k| json!({"type": "keyUp", "value": k}));
        let actions: Vec<Value> = downs.chain(ups).collect();
        self.post("/actions", json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]})).await;
    }

    /// Drags the mouse across `e` from `from` to `to`, fractions of its width, along its middle:
    /// press, move in steps, release (WebDriver's pointer actions).
    pub async fn drag_across(&self, e: &Element, from: f64, to: f64) {
        let width = self
            .execute("return arguments[0].getBoundingClientRect().width;", json!([{ (ELEMENT): e.0 }]))
            .await
            .as_f64()
            .unwrap_or(0.0);
        let x = |f: f64| ((f - 0.5) * width).round() as i64;
        let origin = json!({ (ELEMENT): e.0 });
        let mut actions = vec![
            json!({"type": "pointerMove", "duration": 0, "origin": origin, "x": x(from), "y": 0}),
            json!({"type": "pointerDown", "button": 0}),
        ];
        for step in 1..=8 {
            let f = from + (to - from) * f64::from(step) / 8.0;
            actions.push(json!({"type": "pointerMove", "duration": 30, "origin": origin, "x": x(f), "y": 0}));
        }
        actions.push(json!({"type": "pointerUp", "button": 0}));
        self.post(
            "/actions",
            json!({"actions": [{"type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"}, "actions": actions}]}),
        )
        .await;
    }

    /// The window's (width, height).
    pub async fn window_size(&self) -> (u64, u64) {
        let rect = self.call(reqwest::Method::GET, "/window/rect", None).await;
        (rect["width"].as_u64().unwrap_or(0), rect["height"].as_u64().unwrap_or(0))
    }

    pub async fn set_window_size(&self, width: u64, height: u64) {
        self.post("/window/rect", json!({"width": width, "height": height})).await;
    }

    pub async fn text(&self, e: &Element) -> String {
        self.call(reqwest::Method::GET, &format!("/element/{}/text", e.0), None).await.as_str().unwrap_or("").to_owned()
    }

    /// Runs `script` (a function body; `arguments` holds `args`) in the page.
    pub async fn execute(&self, script: &str, args: Value) -> Value {
        self.post("/execute/sync", json!({"script": script, "args": args})).await
    }

    /// Drops `file` on the window, as the OS delivers a drop to a Tauri app (WebDriver cannot
    /// drag files from outside the page).
    pub async fn drop_file(&self, file: &std::path::Path) {
        self.drop_files(&[file]).await;
    }

    /// Several files dropped on the window at once, as the OS delivers them.
    pub async fn drop_files(&self, files: &[&std::path::Path]) {
        let paths: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        self.execute(
            "window.__TAURI_INTERNALS__.invoke('plugin:event|emit', {event: 'tauri://drag-drop', payload: {paths: arguments[0], position: {x: 400, y: 300}}});",
            json!([paths]),
        )
        .await;
    }

    /// Runs an async `script`: it calls `arguments[arguments.length - 1](result)` when done.
    pub async fn execute_async(&self, script: &str, args: Value) -> Value {
        self.post("/execute/async", json!({"script": script, "args": args})).await
    }

    pub async fn close(self) {
        let _ = self.http.delete(&self.base).send().await;
    }
}
