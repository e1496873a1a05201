//! The operating-system layer: every line that differs between Linux, the other POSIX
//! systems (macOS, the BSDs) and Windows lives here, behind small platform-free types, so
//! that the rest of the crate compiles and reads the same everywhere.

pub(crate) mod fork;
pub(crate) mod socket;
pub mod wakeup;
