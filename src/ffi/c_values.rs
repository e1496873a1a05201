//! Enums and bools that come in from C by value.
//!
//! A C caller can pass any int where the header says `enum sse_...` (a cast, a header
//! newer than the library, another language's FFI that knows only integers) and any byte
//! where it says `bool`. A Rust enum or bool holding such a value is undefined behaviour
//! before a single line of ours runs, so no exported function takes them as `E` or `bool`:
//! each takes `MaybeUninit<E>` / `MaybeUninit<bool>` (same size, alignment and ABI;
//! cbindgen writes plain `E` / `bool` into the header) and reads it here, as the integer the
//! caller passed, before anything else looks at it.
//!
//! The enums of the header are 4 bytes (a C `int`; asserted when each is read) and their
//! values are fixed: later versions only append, so what is unknown today may be valid
//! tomorrow, and the message says which values this library knows.

use std::mem::{size_of, MaybeUninit};

use super::boundary::fail;
use super::sse_result;

/// A `#[repr(C)]` enum of the header whose values a C caller may pass in.
pub(crate) trait CEnum: Copy + PartialEq + std::fmt::Debug + 'static {
    /// Its name in the header, for messages.
    const C_NAME: &'static str;
    /// Every variant, in ascending order of value (the values are contiguous). A variant
    /// added to the enum must be added here too, or callers cannot pass it.
    const ALL: &'static [Self];
}

/// The integer a C caller passed for an enum.
fn raw_enum<E: CEnum>(value: &MaybeUninit<E>) -> i32 {
    const {
        assert!(
            size_of::<E>() == size_of::<i32>(),
            "a C enum of the header must be 4 bytes"
        )
    };
    // SAFETY: `E` is 4 bytes (asserted above), and the caller of `enum_arg` promises they
    // were initialized: any argument C passes is.
    unsafe { value.as_ptr().cast::<i32>().read() }
}

/// The integer value of a known variant.
fn value_of<E: CEnum>(variant: E) -> i32 {
    raw_enum(&MaybeUninit::new(variant))
}

/// Reads an enum argument: `Ok` for a value of `E`, `Err` with the integer otherwise.
///
/// # Safety
/// `value` must hold initialized bytes: an argument received from C does.
pub(crate) unsafe fn enum_arg<E: CEnum>(value: MaybeUninit<E>) -> Result<E, i32> {
    let raw = raw_enum(&value);
    E::ALL
        .iter()
        .copied()
        .find(|&variant| value_of(variant) == raw)
        .ok_or(raw)
}

/// Reads `function`'s enum argument `parameter`; an unknown value fails with
/// SSE_ERROR_INVALID_ARGUMENT and a message naming the parameter, the value and the
/// values this library knows.
///
/// # Safety
/// As for [`enum_arg`].
pub(crate) unsafe fn try_enum<E: CEnum>(
    value: MaybeUninit<E>,
    function: &str,
    parameter: &str,
) -> Result<E, sse_result> {
    // SAFETY: as promised by the caller.
    unsafe { enum_arg(value) }.map_err(|raw| {
        fail(
            sse_result::SSE_ERROR_INVALID_ARGUMENT,
            unknown_enum_message::<E>(function, parameter, raw),
        )
    })
}

/// "f: p is 77, not a value of sse_x (valid: 0 to 1)".
pub(crate) fn unknown_enum_message<E: CEnum>(function: &str, parameter: &str, raw: i32) -> String {
    let (first, last) = match (E::ALL.first(), E::ALL.last()) {
        (Some(&first), Some(&last)) => (value_of(first), value_of(last)),
        _ => unreachable!("every C enum has a variant"),
    };
    format!(
        "{function}: {parameter} is {raw}, not a value of {} (valid: {first} to {last})",
        E::C_NAME
    )
}

/// Reads `function`'s bool argument `parameter`: 0 is false, 1 is true, any other byte
/// fails with SSE_ERROR_INVALID_ARGUMENT (a C99 `bool` only ever holds 0 or 1, so such a
/// byte comes from a caller whose declaration does not match the header).
///
/// # Safety
/// `value` must hold an initialized byte: an argument received from C does.
pub(crate) unsafe fn try_bool(
    value: MaybeUninit<bool>,
    function: &str,
    parameter: &str,
) -> Result<bool, sse_result> {
    const { assert!(size_of::<bool>() == size_of::<u8>()) };
    // SAFETY: one byte, initialized as the caller promises.
    let raw = unsafe { value.as_ptr().cast::<u8>().read() };
    match raw {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(fail(
            sse_result::SSE_ERROR_INVALID_ARGUMENT,
            format!("{function}: {parameter} is {raw}, not a bool (valid: 0 = false, 1 = true)"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{
        boundary, sse_error_kind, sse_log_level, sse_message_kind, sse_ready_state, sse_trust_roots,
    };
    use super::*;
    use std::ffi::CStr;

    /// What C passes for an enum argument of type `E`: any 4-byte integer.
    fn from_c<E: CEnum>(raw: i32) -> MaybeUninit<E> {
        let mut value = MaybeUninit::<E>::uninit();
        // SAFETY: `E` is 4 bytes (every CEnum is, see raw_enum); all of them are written.
        unsafe { value.as_mut_ptr().cast::<i32>().write(raw) };
        value
    }

    fn bool_from_c(raw: u8) -> MaybeUninit<bool> {
        let mut value = MaybeUninit::<bool>::uninit();
        // SAFETY: one byte, written.
        unsafe { value.as_mut_ptr().cast::<u8>().write(raw) };
        value
    }

    fn last_error() -> String {
        // SAFETY: a valid NUL-terminated thread-local string.
        unsafe { CStr::from_ptr(boundary::last_error_message()) }
            .to_string_lossy()
            .into_owned()
    }

    /// Every known value reads back as itself; the integers just outside are refused.
    fn known_values_read_back_and_neighbours_are_refused<E: CEnum>() {
        for &variant in E::ALL {
            // SAFETY: initialized by from_c.
            assert_eq!(
                unsafe { enum_arg(from_c::<E>(value_of(variant))) },
                Ok(variant)
            );
        }
        let first = value_of(E::ALL[0]);
        let last = value_of(*E::ALL.last().unwrap());
        assert_eq!(
            last - first + 1,
            E::ALL.len() as i32,
            "{}: values contiguous, no gap, no duplicate",
            E::C_NAME
        );
        for raw in [first - 1, last + 1, 77, -1, i32::MIN, i32::MAX] {
            if (first..=last).contains(&raw) {
                continue;
            }
            // SAFETY: initialized by from_c.
            assert_eq!(
                unsafe { enum_arg(from_c::<E>(raw)) },
                Err(raw),
                "{}",
                E::C_NAME
            );
        }
    }

    #[test]
    fn every_enum_reads_its_known_values_and_refuses_the_others() {
        known_values_read_back_and_neighbours_are_refused::<sse_result>();
        known_values_read_back_and_neighbours_are_refused::<sse_error_kind>();
        known_values_read_back_and_neighbours_are_refused::<sse_ready_state>();
        known_values_read_back_and_neighbours_are_refused::<sse_trust_roots>();
        known_values_read_back_and_neighbours_are_refused::<sse_log_level>();
        known_values_read_back_and_neighbours_are_refused::<sse_message_kind>();
    }

    #[test]
    fn an_unknown_enum_value_is_an_invalid_argument_naming_parameter_value_and_range() {
        // SAFETY: initialized by from_c.
        let result = unsafe {
            try_enum(
                from_c::<sse_trust_roots>(77),
                "sse_config_set_trust_roots",
                "roots",
            )
        };
        assert_eq!(result, Err(sse_result::SSE_ERROR_INVALID_ARGUMENT));
        assert_eq!(
            last_error(),
            "sse_config_set_trust_roots: roots is 77, not a value of sse_trust_roots (valid: 0 to 1)"
        );
        // SAFETY: initialized by from_c.
        let known = unsafe { try_enum(from_c::<sse_log_level>(2), "f", "level") };
        assert_eq!(known, Ok(sse_log_level::SSE_LOG_WARN));
    }

    #[test]
    fn a_bool_is_0_or_1_and_any_other_byte_is_an_invalid_argument() {
        // SAFETY: initialized by bool_from_c.
        unsafe {
            assert_eq!(try_bool(bool_from_c(0), "f", "enabled"), Ok(false));
            assert_eq!(try_bool(bool_from_c(1), "f", "enabled"), Ok(true));
            for raw in [2, 0x80, 0xff] {
                assert_eq!(
                    try_bool(bool_from_c(raw), "sse_config_set_retry_non_get", "enabled"),
                    Err(sse_result::SSE_ERROR_INVALID_ARGUMENT)
                );
                assert_eq!(
                    last_error(),
                    format!(
                        "sse_config_set_retry_non_get: enabled is {raw}, not a bool \
                         (valid: 0 = false, 1 = true)"
                    )
                );
            }
        }
    }
}
