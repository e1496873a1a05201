//! Build settings that cargo cannot express in Cargo.toml.
//!
//! The C header is not written here: `tools/gen-header` writes it as an explicit step, so
//! that no build (in the checkout, or out of source through CMake) edits the source tree.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
}
