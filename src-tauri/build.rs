fn main() {
    // Relative relocations packed (DT_RELR, glibc 2.36+, binutils 2.38+): the table the loader
    // reads and keeps mapped at every start shrinks from ~750 KB to a few KB.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
        && std::env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("gnu")
    {
        println!("cargo:rustc-link-arg-bin=resonance-desktop=-Wl,-z,pack-relative-relocs");
    }
    tauri_build::build();
}
