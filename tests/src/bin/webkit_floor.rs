//! WebKitGTK's own memory and start floor, for `cargo xtask bench`: a bare WebKitGTK window (no
//! Tauri, no app) showing one static page, the least any WebKitGTK app can use. Writes the time
//! its page finished loading (epoch milliseconds) to the file named by its argument a second
//! later, once it has painted; runs until killed.

use gtk::prelude::*;
use webkit2gtk::{LoadEvent, WebViewExt};

fn main() {
    let Some(ready) = std::env::args_os().nth(1) else {
        eprintln!("usage: webkit_floor READY_FILE");
        std::process::exit(2);
    };
    if let Err(e) = gtk::init() {
        eprintln!("webkit_floor: no display: {e}");
        std::process::exit(1);
    }
    let window = gtk::Window::new(gtk::WindowType::Toplevel);
    window.set_default_size(1100, 760);
    let view = webkit2gtk::WebView::new();
    window.add(&view);
    view.connect_load_changed(move |_, event| {
        if event == LoadEvent::Finished {
            let ready = ready.clone();
            let loaded = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs_f64() * 1000.0)
                .unwrap_or(0.0);
            // One more second for the first paint, as the app's figure is taken after its start.
            gtk::glib::timeout_add_seconds_local_once(1, move || {
                if let Err(e) = std::fs::write(&ready, loaded.to_string()) {
                    eprintln!("webkit_floor: cannot write the ready file: {e}");
                }
            });
        }
    });
    view.load_html("<!doctype html><title>floor</title><h1>Hello</h1>", None);
    window.show_all();
    gtk::main();
}
