//! Build settings that cargo cannot express in Cargo.toml.
//!
//! The C header is not written here: `tools/gen-header` writes it as an explicit step, so
//! that no build (in the checkout, or out of source through CMake) edits the source tree.

use std::path::PathBuf;

fn main() {
    shared_library_link_args();
}

/// The shared library's identity on ELF systems: a real SONAME, `libsse_client.so.<major>`
/// (a major version bump is an ABI break), so that a host linked against it records
/// `DT_NEEDED libsse_client.so.<major>` and keeps working across 1.x updates. Only the
/// cdylib gets it (`rustc-cdylib-link-arg`); the rlib, staticlib and test binaries do not.
///
/// cargo writes `libsse_client.so` and knows nothing of the SONAME, so a link
/// `libsse_client.so.<major> -> libsse_client.so` is made next to it: programs linked with
/// `-L target/<profile> -lsse_client -Wl,-rpath,...` (tests/c/run.sh, the CMake build tree)
/// then find their DT_NEEDED at run time.
///
/// Exports need nothing here: rustc links a cdylib with its own version script (the
/// `#[no_mangle]` items global, everything else `local: *`), and tests/check_exports.sh
/// checks that only `sse_*` symbols come out. A second anonymous version script would
/// conflict with rustc's.
fn shared_library_link_args() {
    println!("cargo:rerun-if-changed=build.rs");
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").expect("cargo sets it");
    let Some(soname) = elf_soname(&target_os, &major) else {
        return;
    };
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{soname}");

    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it"));
    let Some(profile_dir) = profile_dir_of(&out_dir) else {
        println!(
            "cargo:warning=no profile directory above {}: no {soname} link",
            out_dir.display()
        );
        return;
    };
    link_soname_to_library(&profile_dir, &soname);
}

/// `<profile dir>/<soname> -> libsse_client.so`, made once (a relative link, so the
/// target directory can move). Only a Unix host makes symbolic links this way.
#[cfg(unix)]
fn link_soname_to_library(profile_dir: &std::path::Path, soname: &str) {
    let link = profile_dir.join(soname);
    let library = std::path::Path::new("libsse_client.so");
    if std::fs::read_link(&link).ok().as_deref() == Some(library) {
        return;
    }
    let _ = std::fs::remove_file(&link);
    if let Err(error) = std::os::unix::fs::symlink(library, &link) {
        println!(
            "cargo:warning=could not link {} -> libsse_client.so: {error}",
            link.display()
        );
    }
}

#[cfg(not(unix))]
fn link_soname_to_library(_profile_dir: &std::path::Path, _soname: &str) {}

/// `libsse_client.so.<major>` for targets whose libraries are ELF and whose linkers take
/// `-soname` (GNU ld, gold, lld, mold); `None` elsewhere (macOS has install names, Windows
/// DLLs have neither).
fn elf_soname(target_os: &str, major: &str) -> Option<String> {
    const ELF_TARGET_OS: [&str; 6] = [
        "linux",
        "android",
        "freebsd",
        "netbsd",
        "openbsd",
        "dragonfly",
    ];
    ELF_TARGET_OS
        .contains(&target_os)
        .then(|| format!("libsse_client.so.{major}"))
}

/// The directory cargo writes the library into, from the build script's OUT_DIR:
/// `<target dir>/[<triple>/]<profile>/build/sse_client-<hash>/out`.
fn profile_dir_of(out_dir: &std::path::Path) -> Option<PathBuf> {
    let build_dir = out_dir.parent()?.parent()?;
    if build_dir.file_name()? != "build" {
        return None;
    }
    build_dir.parent().map(PathBuf::from)
}
