//! Generates `include/sse_client.h` from the library's C boundary with cbindgen.
//!
//! Without arguments it rewrites the header when its text changes. With `--check` it
//! writes nothing in the source tree and fails when the committed header differs from
//! what the sources generate (the fresh text goes to `target/sse_client.h.generated`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn main() -> ExitCode {
    let check_only = match std::env::args().nth(1).as_deref() {
        None => false,
        Some("--check") => true,
        Some(other) => {
            eprintln!("unknown argument {other:?}; usage: gen-header [--check]");
            return ExitCode::from(2);
        }
    };
    let library = match Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
    {
        Ok(path) => path,
        Err(error) => {
            eprintln!("cannot find the library's directory: {error}");
            return ExitCode::FAILURE;
        }
    };
    let header_path = library.join("include").join("sse_client.h");
    let generated = match generate(&library) {
        Ok(text) => text,
        Err(message) => {
            eprintln!("cbindgen could not generate the header: {message}");
            return ExitCode::FAILURE;
        }
    };
    let committed = std::fs::read(&header_path).ok();
    if committed.as_deref() == Some(generated.as_slice()) {
        println!("{} is up to date", header_path.display());
        return ExitCode::SUCCESS;
    }
    if check_only {
        let fresh = library.join("target").join("sse_client.h.generated");
        let written = std::fs::create_dir_all(library.join("target"))
            .and_then(|()| std::fs::write(&fresh, &generated));
        eprintln!(
            "include/sse_client.h differs from what the sources generate; run\n  \
             cargo run --manifest-path tools/gen-header/Cargo.toml\nand commit the header."
        );
        if written.is_ok() {
            eprintln!("generated text: {}", fresh.display());
            // Best effort: show the difference when diff is installed.
            let _ = std::process::Command::new("diff")
                .arg("-u")
                .args([&header_path, &fresh])
                .status();
        }
        return ExitCode::FAILURE;
    }
    if let Err(error) = write_header(&header_path, &generated) {
        eprintln!("cannot write {}: {error}", header_path.display());
        return ExitCode::FAILURE;
    }
    println!("wrote {}", header_path.display());
    ExitCode::SUCCESS
}

fn generate(library: &Path) -> Result<Vec<u8>, String> {
    let config = cbindgen::Config::from_file(library.join("cbindgen.toml"))?;
    let bindings = cbindgen::Builder::new()
        .with_crate(library)
        .with_config(config)
        .generate()
        .map_err(|error| error.to_string())?;
    let mut text = Vec::new();
    bindings.write(&mut text);
    Ok(text)
}

fn write_header(path: &PathBuf, text: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(path.parent().expect("include/ has a parent"))?;
    std::fs::write(path, text)
}
