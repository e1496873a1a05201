//! Generates `include/sse_client.h` from the `ffi` module with cbindgen.
//!
//! The header is committed; CI builds and then fails on any diff, so the committed header
//! always matches the sources. It is written only when its text changes.

use std::path::PathBuf;

fn main() {
    let crate_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let header_path = crate_dir.join("include").join("sse_client.h");
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");

    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("cbindgen.toml is readable");
    let bindings = match cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
    {
        Ok(bindings) => bindings,
        Err(error) => {
            // A syntax error is reported better by rustc; do not fail the build here.
            println!("cargo:warning=cbindgen could not generate the header: {error}");
            return;
        }
    };
    let mut text = Vec::new();
    bindings.write(&mut text);
    if std::fs::read(&header_path).ok().as_deref() != Some(text.as_slice()) {
        std::fs::create_dir_all(header_path.parent().expect("has a parent"))
            .expect("include/ can be created");
        std::fs::write(&header_path, text).expect("include/sse_client.h is writable");
    }
}
