// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    resonance_desktop::startup::mark("main");
    #[cfg(target_os = "linux")]
    software_rendering_without_compositing();
    #[cfg(target_os = "linux")]
    javascript_without_optimizing_tiers();
    resonance_desktop::run();
}

/// The UI's scripts are short handlers between calls into Rust (decoding, drawing and the
/// mirror all run there): JavaScriptCore's optimizing compilers (DFG, and FTL above it) never
/// pay for themselves in it, and cost the web process about 4 MB (`cargo xtask bench`). The
/// interpreter and the baseline JIT stay on (turning all JIT off saves 7 MB more but makes every
/// handler slower). Set before any thread exists; an explicit setting wins. Programs the app
/// starts run without it (`webkit_env::open`).
#[cfg(target_os = "linux")]
fn javascript_without_optimizing_tiers() {
    resonance_desktop::webkit_env::set_unless_set("JSC_useDFGJIT", "false");
}

/// Without a GPU render node, WebKitGTK composites on software GL (llvmpipe): slower than not
/// compositing at all, and about 100 MB more for the web process (`cargo xtask bench`). Such
/// machines (VMs, remote desktops, CI) render without it. Set before any thread exists; an
/// explicit setting wins.
#[cfg(target_os = "linux")]
fn software_rendering_without_compositing() {
    const VAR: &str = "WEBKIT_DISABLE_COMPOSITING_MODE";
    let has_gpu = std::fs::read_dir("/dev/dri")
        .map(|dir| dir.flatten().any(|e| e.file_name().to_string_lossy().starts_with("renderD")))
        .unwrap_or(false);
    if !has_gpu {
        resonance_desktop::webkit_env::set_unless_set(VAR, "1");
    }
}
