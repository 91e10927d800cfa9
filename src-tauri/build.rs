fn main() {
    // Relative relocations packed (DT_RELR): the table the loader reads and keeps mapped at
    // every start shrinks from ~750 KB to 8 KB. Needs glibc 2.36+ where the app runs (the
    // packages depend on it: tauri.conf.json) and a linker that knows the flag (lld 15+,
    // binutils 2.38+).
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
        && std::env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("gnu")
    {
        println!("cargo:rustc-link-arg-bin=resonance-desktop=-Wl,-z,pack-relative-relocs");
    }
    tauri_build::build();
}
