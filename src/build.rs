//! Build script (Cargo.toml: `build = "src/build.rs"`).
//!
//! Release builds of the `rekey` binary are linked with `assets/first-frame.order`: the
//! functions that run before the console's first frame, placed next to each other, so that
//! start-up faults in a few pages of code instead of pages spread over the whole 8 MB of it.
//! `python3 benches/first_frame_order.py` writes the file from a real run. A name the build no
//! longer has is ignored, so a stale file only costs speed, never correctness.
//!
//! The ordering needs LLD: rustc's default linker on x86_64 Linux since Rust 1.90, when the
//! toolchain ships it (rustup's does; a distribution's rustc may link with the system's `ld`,
//! which does not know the option). With any other linker, target or toolchain the binary is
//! linked as usual.

use std::env;
use std::path::Path;
use std::process::Command;

fn main() {
    let order = Path::new("assets/first-frame.order");
    println!("cargo::rerun-if-changed={}", order.display());
    println!("cargo::rerun-if-changed=src/build.rs");
    println!("cargo::rerun-if-env-changed=RUSTC_LINKER");
    if env::var("PROFILE").as_deref() != Ok("release")
        || env::var("TARGET").as_deref() != Ok("x86_64-unknown-linux-gnu")
        || env::var("HOST") != env::var("TARGET")
        || env::var_os("RUSTC_LINKER").is_some()
        || env::var("CARGO_ENCODED_RUSTFLAGS").is_ok_and(|f| f.contains("link"))
        || !rustc_links_with_lld()
        || !order.is_file()
    {
        return;
    }
    let order = env::current_dir()
        .expect("the build script runs in the package folder")
        .join(order);
    println!(
        "cargo::rustc-link-arg-bin=rekey=-Wl,--symbol-ordering-file={}",
        order.display()
    );
    println!("cargo::rustc-link-arg-bin=rekey=-Wl,--no-warn-symbol-ordering");
}

/// Whether rustc links with its own LLD: 1.90 or later, and the toolchain has it
/// (`lib/rustlib/x86_64-unknown-linux-gnu/bin/gcc-ld/ld.lld` in its sysroot).
fn rustc_links_with_lld() -> bool {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let ask = |arg: &str| {
        Command::new(&rustc)
            .arg(arg)
            .output()
            .ok()
            .filter(|out| out.status.success())
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let (Some(version), Some(sysroot)) = (ask("--version"), ask("--print=sysroot")) else {
        return false;
    };
    // "rustc 1.95.0 (59807616e 2026-04-14)"
    let mut numbers = version
        .split_whitespace()
        .nth(1)
        .unwrap_or("")
        .split('.')
        .map(|n| n.parse::<u32>().unwrap_or(0));
    let (major, minor) = (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0));
    let lld = Path::new(&sysroot).join("lib/rustlib/x86_64-unknown-linux-gnu/bin/gcc-ld/ld.lld");
    (major > 1 || (major == 1 && minor >= 90)) && lld.is_file()
}
