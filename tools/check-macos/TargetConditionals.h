/* A stand-in for the macOS SDK's TargetConditionals.h, for tools/check-macos/run.sh only:
 * the values the SDK's header gives when building for macOS. ring's C includes it on
 * Apple targets (to tell macOS from iOS); everything else ring's C needs is the compiler's
 * own (RING_CORE_NOSTDLIBINC). What is compiled with it is never linked: the run is
 * `cargo clippy`, a check of the Rust code's macOS paths, not a macOS build. */
#ifndef SSE_CLIENT_CHECK_ONLY_TARGET_CONDITIONALS_H
#define SSE_CLIENT_CHECK_ONLY_TARGET_CONDITIONALS_H
#define TARGET_OS_MAC 1
#define TARGET_OS_OSX 1
#define TARGET_OS_IPHONE 0
#define TARGET_OS_IOS 0
#define TARGET_OS_TV 0
#define TARGET_OS_WATCH 0
#define TARGET_OS_VISION 0
#define TARGET_OS_SIMULATOR 0
#endif
