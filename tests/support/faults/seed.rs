//! The seeds of the fault scenarios: a deterministic PRNG (splitmix64) and the master seed
//! every scenario and round derives its own from.

pub use crate::support::splitmix::Rng;

pub const DEFAULT_SEED: u64 = 0xFA17_5EED_0000_0001;

pub(super) fn mix(a: u64, b: u64) -> u64 {
    Rng::new(a ^ b.rotate_left(29).wrapping_mul(0x2545_F491_4F6C_DD1D)).next_u64()
}

pub(super) fn parse_number(text: &str) -> Option<u64> {
    let text = text.trim().replace('_', "");
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

pub fn master_seed() -> u64 {
    match std::env::var("SSE_FAULT_SEED") {
        Ok(text) => parse_number(&text)
            .unwrap_or_else(|| panic!("SSE_FAULT_SEED={text:?} is not a decimal or 0x-hex u64")),
        Err(_) => DEFAULT_SEED,
    }
}
