//! Builds the probe (probe/main.rs) as a static executable with rustc alone, so it
//! runs in a test rootfs that has no C library. Its path reaches the grader as
//! the compile-time variable WORKSHOP_PROBE.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let source = "probe/main.rs";
    println!("cargo:rerun-if-changed={source}");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap()).join("probe");
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let target = std::env::var("TARGET").unwrap();
    let mut rustc = Command::new(rustc);
    // A cross build (say, checking aarch64 on an x86_64 machine) names its linker
    // as cargo does: CARGO_TARGET_<TRIPLE>_LINKER.
    let linker_variable = format!("CARGO_TARGET_{}_LINKER", target.to_uppercase().replace('-', "_"));
    println!("cargo:rerun-if-env-changed={linker_variable}");
    if let Ok(linker) = std::env::var(&linker_variable) {
        rustc.arg("-C").arg(format!("linker={linker}"));
    }
    let status = rustc
        .args([
            "--edition",
            "2021",
            "--crate-name",
            "probe",
            "-O",
            "-C",
            "target-feature=+crt-static",
        ])
        .args(["--target", &target, "-o"])
        .arg(&out)
        .arg(source)
        .status()
        .expect("could not run rustc to build the probe");
    assert!(
        status.success(),
        "building the static probe failed: a static C library is needed (Debian/Ubuntu: apt install libc6-dev)"
    );
    println!("cargo:rustc-env=WORKSHOP_PROBE={}", out.display());
}
