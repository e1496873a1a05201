//! Finds the CR and LF bytes of one input slice, 64 bytes at a time.
//!
//! Each 64-byte block becomes two bitmasks (bit `i` = byte `i` of the block): where the CR
//! and LF bytes are, and where the non-ASCII bytes are. Line ends are then popped with
//! `trailing_zeros`, so a short line costs a few instructions instead of a byte loop or a
//! `memchr2` set-up per line, and the same pass tells the parser which lines are pure ASCII
//! (those need no UTF-8 validation).
//!
//! The scanner reports every CR and every LF; it knows nothing of CRLF. The parser, which
//! sees a CR followed by a LF, pops that LF as part of the same line end.

/// The CR and LF positions of a slice, in order, each with whether the bytes since the
/// previous one (or since the start) hold a non-ASCII byte.
pub(super) struct LineEnds<'a> {
    bytes: &'a [u8],
    /// The position of bit 0 of the current block.
    base: usize,
    /// Where the next block starts (`bytes.len()` once everything is scanned).
    next: usize,
    /// CR and LF positions in the current block that have not been returned yet.
    ends: u64,
    /// Non-ASCII positions in the current block after the last returned line end.
    high: u64,
    /// A block before the current one had a non-ASCII byte after the last returned line end.
    high_before: bool,
}

impl<'a> LineEnds<'a> {
    pub(super) fn new(bytes: &'a [u8]) -> LineEnds<'a> {
        let mut scanner = LineEnds {
            bytes,
            base: 0,
            next: 0,
            ends: 0,
            high: 0,
            high_before: false,
        };
        scanner.load_block();
        scanner
    }

    /// The next CR or LF: its position, and whether a non-ASCII byte lies between the
    /// previous line end returned (or the start of the slice) and it.
    #[inline(always)]
    pub(super) fn next_end(&mut self) -> Option<(usize, bool)> {
        if self.ends == 0 && !self.refill() {
            return None;
        }
        let bit = self.ends.trailing_zeros();
        self.ends &= self.ends - 1;
        let at = self.base + bit as usize;
        // All-ASCII so far (the usual case): nothing to split.
        if self.high == 0 && !self.high_before {
            return Some((at, false));
        }
        // The line end itself is ASCII: every high bit below `bit` belongs to the line.
        let rest = u64::MAX << bit;
        let non_ascii = self.high_before | (self.high & !rest != 0);
        self.high &= rest;
        self.high_before = false;
        Some((at, non_ascii))
    }

    /// After `next_end` returned `None`: whether the bytes after the last line end (the
    /// unterminated rest of the slice) hold a non-ASCII byte.
    pub(super) fn rest_is_non_ascii(&self) -> bool {
        self.high_before | (self.high != 0)
    }

    /// Scans blocks until one has a line end (true) or the slice is exhausted (false).
    /// Out of line: once per block, while popping a line end is a few instructions.
    #[inline(never)]
    fn refill(&mut self) -> bool {
        if self.next == self.bytes.len() {
            return false;
        }
        self.high_before |= self.high != 0;
        self.load_block();
        while self.ends == 0 {
            // A whole block without a line end: a long line. Skip the blocks that have none
            // either with the cheaper test, then take the masks of the one that has.
            if self.next == self.bytes.len() {
                return false;
            }
            self.high_before |= self.high != 0;
            self.high = 0;
            let (at, high) = skip_plain_blocks(self.bytes, self.next);
            self.high_before |= high;
            self.next = at;
            if at == self.bytes.len() {
                return false;
            }
            self.load_block();
        }
        true
    }

    /// Scans the block at `self.next` (there is one: `next < bytes.len()`, or the slice is
    /// empty and this is the constructor's call).
    #[inline(always)]
    fn load_block(&mut self) {
        let len = self.bytes.len();
        let start = self.next;
        let (ends, high) = if len - start >= 64 {
            self.next = start + 64;
            block_masks(self.bytes[start..start + 64].try_into().unwrap())
        } else if len >= 64 {
            // The tail of a long slice: the last 64 bytes, without those already scanned.
            let shift = 64 - (len - start);
            self.next = len;
            let (ends, high) = block_masks(self.bytes[len - 64..].try_into().unwrap());
            (ends >> shift, high >> shift)
        } else {
            // A short slice (tiny feeds): padded with zeros, which are neither line ends
            // nor non-ASCII.
            let mut block = [0u8; 64];
            block[..len - start].copy_from_slice(&self.bytes[start..]);
            self.next = len;
            block_masks(&block)
        };
        self.base = start;
        self.ends = ends;
        self.high = high;
    }
}

/// From `at`, skips whole 64-byte blocks without CR or LF; returns where the first block
/// that has one starts (or where fewer than 64 bytes remain), and whether any skipped byte
/// was non-ASCII. About half the work of [`block_masks`] per block: no masks are built.
/// With AVX2 (detected once at run time; std caches the answer), half again: long lines
/// (1 KiB and 1 MiB events) spend most of their scan here.
///
/// The vector intrinsics are unsafe code outside `ffi` and `os` (with the parser's
/// `ascii`, which trusts this scanner's ASCII flags), and they earn it:
/// criterion (`cargo bench --bench parser`, 2026-12-07, two alternating rounds on a shared
/// 2-core machine) against the portable SWAR scan of `swar` put in their place measured
/// 1 MiB lines 14.7–15.5 GiB/s against 2.2–2.8, 1 KiB events 8.8–14.9 GiB/s against 2.3,
/// and 32-byte events 19.8–24.0 M/s against 14.8–15.1.
#[cfg(target_arch = "x86_64")]
#[inline(never)]
#[allow(unsafe_code)]
fn skip_plain_blocks(bytes: &[u8], at: usize) -> (usize, bool) {
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 is available, as just checked.
        unsafe { skip_plain_blocks_avx2(bytes, at) }
    } else {
        skip_plain_blocks_sse2(bytes, at)
    }
}

/// [`skip_plain_blocks`] with 32-byte vectors.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(unsafe_code)]
unsafe fn skip_plain_blocks_avx2(bytes: &[u8], mut at: usize) -> (usize, bool) {
    use std::arch::x86_64::{
        __m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_or_si256,
        _mm256_set1_epi8, _mm256_setzero_si256,
    };
    // SAFETY: AVX2 is enabled for this function (the caller checked the CPU); every load
    // reads 32 bytes inside bytes[at..at + 64], and the loop only runs while
    // at + 64 <= bytes.len().
    unsafe {
        let cr = _mm256_set1_epi8(b'\r' as i8);
        let lf = _mm256_set1_epi8(b'\n' as i8);
        let mut high = _mm256_setzero_si256();
        while bytes.len() - at >= 64 {
            let p = bytes.as_ptr().add(at).cast::<__m256i>();
            let (a, b) = (_mm256_loadu_si256(p), _mm256_loadu_si256(p.add(1)));
            let end = |v| _mm256_or_si256(_mm256_cmpeq_epi8(v, cr), _mm256_cmpeq_epi8(v, lf));
            if _mm256_movemask_epi8(_mm256_or_si256(end(a), end(b))) != 0 {
                break;
            }
            high = _mm256_or_si256(high, _mm256_or_si256(a, b));
            at += 64;
        }
        (at, _mm256_movemask_epi8(high) != 0)
    }
}

/// [`skip_plain_blocks`] with the 16-byte vectors every x86_64 CPU has.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
fn skip_plain_blocks_sse2(bytes: &[u8], mut at: usize) -> (usize, bool) {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
        _mm_setzero_si128,
    };
    // SAFETY: SSE2 is part of the x86_64 baseline; every load reads 16 bytes inside
    // bytes[at..at + 64], and the loop only runs while at + 64 <= bytes.len().
    unsafe {
        let cr = _mm_set1_epi8(b'\r' as i8);
        let lf = _mm_set1_epi8(b'\n' as i8);
        let mut high = _mm_setzero_si128();
        while bytes.len() - at >= 64 {
            let p = bytes.as_ptr().add(at).cast::<__m128i>();
            let v = [
                _mm_loadu_si128(p),
                _mm_loadu_si128(p.add(1)),
                _mm_loadu_si128(p.add(2)),
                _mm_loadu_si128(p.add(3)),
            ];
            let end = |v| _mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, lf));
            let any_end = _mm_or_si128(
                _mm_or_si128(end(v[0]), end(v[1])),
                _mm_or_si128(end(v[2]), end(v[3])),
            );
            if _mm_movemask_epi8(any_end) != 0 {
                break;
            }
            high = _mm_or_si128(
                high,
                _mm_or_si128(_mm_or_si128(v[0], v[1]), _mm_or_si128(v[2], v[3])),
            );
            at += 64;
        }
        (at, _mm_movemask_epi8(high) != 0)
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn skip_plain_blocks(bytes: &[u8], at: usize) -> (usize, bool) {
    swar::skip_plain_blocks(bytes, at)
}

/// The CR-or-LF mask and the non-ASCII mask of one block: with AVX2 when the CPU has it
/// (two 32-byte lanes instead of four 16-byte ones; std caches the detection).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
#[allow(unsafe_code)]
fn block_masks(block: &[u8; 64]) -> (u64, u64) {
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 is available, as just checked.
        unsafe { block_masks_avx2(block) }
    } else {
        block_masks_sse2(block)
    }
}

/// [`block_masks`] with 32-byte vectors.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(unsafe_code)]
unsafe fn block_masks_avx2(block: &[u8; 64]) -> (u64, u64) {
    use std::arch::x86_64::{
        __m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_or_si256,
        _mm256_set1_epi8,
    };
    // SAFETY: AVX2 is enabled for this function (the caller checked the CPU); the two
    // loads read block[0..32] and block[32..64], and `loadu` allows any alignment.
    unsafe {
        let cr = _mm256_set1_epi8(b'\r' as i8);
        let lf = _mm256_set1_epi8(b'\n' as i8);
        let p = block.as_ptr().cast::<__m256i>();
        let (a, b) = (_mm256_loadu_si256(p), _mm256_loadu_si256(p.add(1)));
        let end = |v| {
            _mm256_movemask_epi8(_mm256_or_si256(
                _mm256_cmpeq_epi8(v, cr),
                _mm256_cmpeq_epi8(v, lf),
            ))
        };
        // movemask gives 32 bits; through u32 so the sign does not spread.
        let ends = u64::from(end(a) as u32) | u64::from(end(b) as u32) << 32;
        let high = u64::from(_mm256_movemask_epi8(a) as u32)
            | u64::from(_mm256_movemask_epi8(b) as u32) << 32;
        (ends, high)
    }
}

/// [`block_masks`] with the 16-byte vectors every x86_64 CPU has.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
#[allow(unsafe_code)]
fn block_masks_sse2(block: &[u8; 64]) -> (u64, u64) {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    let mut ends = 0u64;
    let mut high = 0u64;
    // SAFETY: SSE2 is part of the x86_64 baseline, so these intrinsics are available; each
    // load reads block[16 * lane..16 * lane + 16], inside the 64-byte array, and `loadu`
    // allows any alignment.
    unsafe {
        let cr = _mm_set1_epi8(b'\r' as i8);
        let lf = _mm_set1_epi8(b'\n' as i8);
        for lane in 0..4 {
            let v = _mm_loadu_si128(block.as_ptr().add(16 * lane).cast::<__m128i>());
            let is_end = _mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, lf));
            // movemask sets the low 16 bits only; through u16 so the sign does not spread.
            ends |= u64::from(_mm_movemask_epi8(is_end) as u16) << (16 * lane);
            high |= u64::from(_mm_movemask_epi8(v) as u16) << (16 * lane);
        }
    }
    (ends, high)
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn block_masks(block: &[u8; 64]) -> (u64, u64) {
    swar::block_masks(block)
}

/// The portable block scan: eight bytes at a time in a u64 (built on x86_64 too, for tests).
#[cfg(any(test, not(target_arch = "x86_64")))]
mod swar {
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    const ONES: u64 = 0x0101_0101_0101_0101;

    /// 0x80 in every byte of `word` that is zero, 0x00 elsewhere (exact: no borrow
    /// between bytes, unlike the `(x - 0x01..) & !x` variant).
    #[inline(always)]
    fn zero_bytes(word: u64) -> u64 {
        !(((word & LOW7) + LOW7) | word | LOW7)
    }

    /// Bit `i` = the high bit of byte `i`, for a word whose bytes are 0x80 or 0x00.
    #[inline(always)]
    fn gather(flags: u64) -> u64 {
        // Byte i's bit (at 8i after the shift) lands at 56 + i; the cross products fall
        // below bit 56 (distinct, so no carries) or above bit 63.
        ((flags >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56
    }

    pub(super) fn skip_plain_blocks(bytes: &[u8], mut at: usize) -> (usize, bool) {
        let mut high = false;
        while bytes.len() - at >= 64 {
            let (ends, block_high) = block_masks(bytes[at..at + 64].try_into().unwrap());
            if ends != 0 {
                break;
            }
            high |= block_high != 0;
            at += 64;
        }
        (at, high)
    }

    pub(super) fn block_masks(block: &[u8; 64]) -> (u64, u64) {
        let mut ends = 0u64;
        let mut high = 0u64;
        for (index, chunk) in block.chunks_exact(8).enumerate() {
            let word = u64::from_le_bytes(chunk.try_into().unwrap());
            let is_end = zero_bytes(word ^ (ONES * u64::from(b'\r')))
                | zero_bytes(word ^ (ONES * u64::from(b'\n')));
            ends |= gather(is_end) << (8 * index);
            high |= gather(word & !LOW7) << (8 * index);
        }
        (ends, high)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte loop the scanner replaces: every CR or LF, with the non-ASCII flag.
    fn naive(bytes: &[u8]) -> (Vec<(usize, bool)>, bool) {
        let mut out = Vec::new();
        let mut non_ascii = false;
        for (i, &b) in bytes.iter().enumerate() {
            if b == b'\r' || b == b'\n' {
                out.push((i, non_ascii));
                non_ascii = false;
            } else if !b.is_ascii() {
                non_ascii = true;
            }
        }
        (out, non_ascii)
    }

    fn scan(bytes: &[u8]) -> (Vec<(usize, bool)>, bool) {
        let mut scanner = LineEnds::new(bytes);
        let mut out = Vec::new();
        while let Some(end) = scanner.next_end() {
            out.push(end);
        }
        assert_eq!(scanner.next_end(), None, "stays exhausted");
        (out, scanner.rest_is_non_ascii())
    }

    fn naive_masks(block: &[u8; 64]) -> (u64, u64) {
        let mut ends = 0;
        let mut high = 0;
        for (i, &b) in block.iter().enumerate() {
            ends |= u64::from(b == b'\r' || b == b'\n') << i;
            high |= u64::from(!b.is_ascii()) << i;
        }
        (ends, high)
    }

    #[test]
    fn empty_input_has_no_line_end() {
        assert_eq!(scan(b""), (vec![], false));
    }

    #[test]
    fn finds_cr_and_lf_in_a_short_input() {
        assert_eq!(
            scan(b"id: 1\ndata: x\r\n\r"),
            (
                vec![(5, false), (13, false), (14, false), (15, false)],
                false
            )
        );
    }

    #[test]
    fn cr_at_the_end_of_the_input_is_reported() {
        assert_eq!(scan(b"data: a\r"), (vec![(7, false)], false));
        let mut long = vec![b'a'; 200];
        long.push(b'\r');
        assert_eq!(scan(&long), (vec![(200, false)], false));
    }

    #[test]
    fn line_ends_at_every_position_around_block_boundaries() {
        for len in [1, 2, 15, 16, 17, 63, 64, 65, 127, 128, 129, 200] {
            // Under Miri (a thousand times slower) the positions at the block edges only.
            let positions = (0..len).filter(|at| !cfg!(miri) || matches!(at % 64, 0 | 1 | 62 | 63));
            for at in positions {
                for end in [b'\r', b'\n'] {
                    let mut bytes = vec![b'x'; len];
                    bytes[at] = end;
                    assert_eq!(scan(&bytes), naive(&bytes), "len {len}, end at {at}");
                }
            }
        }
    }

    #[test]
    fn crlf_split_over_two_blocks_is_two_positions() {
        // The CR is the last byte of the first block, its LF the first of the next.
        let mut bytes = vec![b'a'; 130];
        bytes[63] = b'\r';
        bytes[64] = b'\n';
        bytes[127] = b'\r';
        bytes[128] = b'\n';
        assert_eq!(
            scan(&bytes),
            (
                vec![(63, false), (64, false), (127, false), (128, false)],
                false
            )
        );
    }

    #[test]
    fn non_ascii_is_attributed_to_its_own_line() {
        let (ends, rest) = scan(b"a\xC3\xA9\nb\n\xFF\rcc");
        assert_eq!(ends, vec![(3, true), (5, false), (7, true)]);
        assert!(!rest);
        assert_eq!(scan(b"a\nb\xE2"), (vec![(1, false)], true));
    }

    #[test]
    fn non_ascii_in_an_earlier_block_marks_the_line_that_spans_it() {
        for len in [70, 140, 300] {
            for at in [0, 1, 62, 63, 64, 65, len - 2] {
                let mut bytes = vec![b'q'; len];
                bytes[at] = 0x80;
                bytes[len - 1] = b'\n';
                assert_eq!(scan(&bytes), (vec![(len - 1, true)], false), "{len} {at}");
                // Without the final LF, the unterminated rest holds it.
                bytes[len - 1] = b'q';
                assert_eq!(scan(&bytes), (vec![], true), "{len} {at}");
            }
        }
    }

    #[test]
    fn matches_a_byte_loop_on_pseudo_random_input() {
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let alphabet = [b'\r', b'\n', b'a', b' ', b':', 0, 0x7F, 0x80, 0xC3, 0xFF];
        // Fewer under Miri, which interprets each step (the same paths, a smaller sample).
        for _ in 0..if cfg!(miri) { 30 } else { 3000 } {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 300) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|i| {
                    let r = state.rotate_left(i as u32 * 7) ^ (i as u64).wrapping_mul(0x9E37);
                    alphabet[(r % alphabet.len() as u64) as usize]
                })
                .collect();
            assert_eq!(scan(&bytes), naive(&bytes), "{bytes:?}");
        }
    }

    /// Long inputs whose lines run from empty to many blocks long, so that the scanner
    /// moves block by block, skips the blocks of long lines and stops at the block with
    /// the next line end, in every combination, with non-ASCII bytes anywhere.
    #[test]
    fn matches_a_byte_loop_on_long_inputs_with_lines_of_any_length() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..if cfg!(miri) { 4 } else { 2000 } {
            let len = (next() % 3000) as usize;
            // Mostly short lines, sometimes one of up to 20 blocks.
            let longest = [40, 100, 700, 1300][(next() % 4) as usize];
            let mut bytes = Vec::with_capacity(len);
            while bytes.len() < len {
                let line = (next() % longest) as usize;
                for _ in 0..line.min(len - bytes.len()) {
                    bytes.push(match next() % 50 {
                        0 => 0xC3,
                        1 => 0x80,
                        _ => b'd',
                    });
                }
                if bytes.len() < len {
                    bytes.push([b'\n', b'\r'][(next() % 2) as usize]);
                }
            }
            assert_eq!(scan(&bytes), naive(&bytes), "{bytes:?}");
        }
    }

    #[test]
    #[allow(unsafe_code)]
    fn skipping_long_lines_stops_at_the_block_with_a_line_end() {
        for (len, end_at, high_at) in [
            (64, None, None),
            (128, Some(127), None),
            (1000, Some(640), Some(3)),
            (1000, Some(640), Some(639)),
            (1000, Some(640), Some(641)),
            (1000, None, Some(999)),
            (1000, None, Some(959)),
            (1000, Some(70), Some(64)),
            (1000, Some(990), Some(980)),
            (1024, None, Some(1000)),
        ] {
            let mut bytes = vec![b'z'; len];
            if let Some(at) = end_at {
                bytes[at] = b'\r';
            }
            if let Some(at) = high_at {
                bytes[at] = 0xE9;
            }
            // Where the block with the end starts, or where fewer than 64 bytes remain.
            let stop = end_at.map_or(len / 64 * 64, |at| at - at % 64);
            let high = high_at.is_some_and(|at| at < stop);
            assert_eq!(
                skip_plain_blocks(&bytes, 0),
                (stop, high),
                "{len} {end_at:?} {high_at:?}"
            );
            assert_eq!(swar::skip_plain_blocks(&bytes, 0), (stop, high));
            #[cfg(target_arch = "x86_64")]
            {
                assert_eq!(skip_plain_blocks_sse2(&bytes, 0), (stop, high));
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: AVX2 is available, as just checked.
                    assert_eq!(unsafe { skip_plain_blocks_avx2(&bytes, 0) }, (stop, high));
                }
            }
            // And the scanner as a whole still agrees with the byte loop.
            assert_eq!(scan(&bytes), naive(&bytes), "{len} {end_at:?} {high_at:?}");
        }
    }

    #[test]
    #[allow(unsafe_code)]
    fn simd_and_swar_masks_match_a_byte_loop() {
        // Every byte value at every position of a block.
        for value in (0..=255u8).step_by(if cfg!(miri) { 37 } else { 1 }) {
            for at in 0..64 {
                let mut block = [b'x'; 64];
                block[at] = value;
                block[(at + 37) % 64] = value.wrapping_add(1);
                let expected = naive_masks(&block);
                assert_eq!(block_masks(&block), expected, "{value} at {at}");
                assert_eq!(swar::block_masks(&block), expected, "{value} at {at}");
                #[cfg(target_arch = "x86_64")]
                {
                    assert_eq!(block_masks_sse2(&block), expected, "{value} at {at}");
                    if std::arch::is_x86_feature_detected!("avx2") {
                        // SAFETY: AVX2 is available, as just checked.
                        let avx2 = unsafe { block_masks_avx2(&block) };
                        assert_eq!(avx2, expected, "{value} at {at}");
                    }
                }
            }
        }
        let all_ends = [b'\n'; 64];
        assert_eq!(swar::block_masks(&all_ends), (u64::MAX, 0));
        assert_eq!(block_masks(&all_ends), (u64::MAX, 0));
        let all_high = [0xFFu8; 64];
        assert_eq!(swar::block_masks(&all_high), (0, u64::MAX));
        assert_eq!(block_masks(&all_high), (0, u64::MAX));
    }
}
