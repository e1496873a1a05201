//! [`Text`]: a borrowed UTF-8 string that is also NUL-terminated in memory, so that the same
//! bytes can be handed to Rust (`&str`) and to C (`const char *` + length) without a copy;
//! [`TextBuf`], the growable buffer a value is kept in when it is handed out again and
//! again; and [`SharedText`], the owned twin whose clones share one copy.
//!
//! The owned types keep their terminator through their own API, so viewing one as a `Text`
//! needs no check: on the per-event path that is three fewer compares and branches than
//! checking a `String` each time.
//!
//! All three hold a `str` whose last character is the NUL, so the type system, not a
//! promise, says the bytes are UTF-8: nothing here needs `unsafe`, and a buffer of texts
//! kept as a `String` hands them back with a safe slice.

use std::sync::Arc;

/// A borrowed view of valid UTF-8 followed by one NUL byte.
///
/// The string itself may contain NUL bytes (event data can); the terminator is there so that
/// C hosts that ignore the length still see a terminated string.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Text<'a> {
    /// The string and its terminator: never empty, always ends with '\0'.
    with_nul: &'a str,
}

impl<'a> Text<'a> {
    /// The empty text, `""`.
    pub const EMPTY: Text<'static> = Text { with_nul: "\0" };

    /// Views `with_nul`, a string whose last character is its NUL terminator. O(1): one
    /// comparison, no validation (a `str` is UTF-8 already).
    ///
    /// Panics without the terminator: a caller that builds the buffer knows it.
    #[inline]
    pub fn from_str_with_nul(with_nul: &'a str) -> Text<'a> {
        // The last byte, not `ends_with('\0')`: one compare on the hot path (a char
        // pattern encodes the char first).
        assert!(
            with_nul.as_bytes().last() == Some(&0),
            "Text must end with a NUL byte"
        );
        Text { with_nul }
    }

    /// Views `bytes`, which must be valid UTF-8 followed by exactly one trailing NUL.
    ///
    /// Panics when the invariant does not hold: a caller that builds the buffer knows it.
    pub fn from_bytes_with_nul(with_nul: &'a [u8]) -> Text<'a> {
        match std::str::from_utf8(with_nul) {
            Ok(with_nul) => Text::from_str_with_nul(with_nul),
            Err(_) => panic!("Text must be UTF-8"),
        }
    }

    /// The string, without the terminator.
    #[inline]
    pub fn as_str(&self) -> &'a str {
        // The terminator is one byte, so this is a character boundary.
        &self.with_nul[..self.with_nul.len() - 1]
    }

    /// The bytes, without the terminator: no character-boundary check, unlike
    /// `as_str().as_bytes()`.
    #[inline]
    pub fn as_bytes(&self) -> &'a [u8] {
        &self.with_nul.as_bytes()[..self.with_nul.len() - 1]
    }

    /// The string including the trailing NUL: for buffers that copy texts.
    #[inline]
    pub fn as_str_with_nul(&self) -> &'a str {
        self.with_nul
    }

    /// The bytes including the trailing NUL.
    #[inline]
    pub fn as_bytes_with_nul(&self) -> &'a [u8] {
        self.with_nul.as_bytes()
    }

    /// Length in bytes, without the terminator.
    #[inline]
    pub fn len(&self) -> usize {
        self.with_nul.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A growable [`Text`]: a `String` that always ends with its NUL, kept so by every method
/// here, so that [`as_text`](TextBuf::as_text) is free. For the values the parser keeps and
/// hands out at each event (the last event ID, the event type, a comment).
#[derive(PartialEq, Eq)]
pub struct TextBuf {
    /// The text and its terminator: never empty, always ends with '\0'.
    with_nul: String,
}

impl TextBuf {
    /// The empty text.
    pub fn new() -> TextBuf {
        TextBuf {
            with_nul: String::from("\0"),
        }
    }

    /// Makes it empty, keeping the allocation.
    #[inline]
    pub fn clear(&mut self) {
        // Most calls find it empty already (the parser clears the event type at each
        // dispatch): a compare instead of a store and a capacity check.
        if !self.is_empty() {
            self.with_nul.clear();
            self.with_nul.push('\0');
        }
    }

    /// Replaces the text with `text`, reusing the allocation.
    #[inline]
    pub fn set(&mut self, text: &str) {
        self.with_nul.clear();
        self.with_nul.reserve(text.len() + 1);
        self.with_nul.push_str(text);
        self.with_nul.push('\0');
    }

    #[inline]
    pub fn as_text(&self) -> Text<'_> {
        Text {
            with_nul: &self.with_nul,
        }
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.with_nul.len() == 1
    }

    /// Bytes allocated, the terminator's included.
    pub fn capacity(&self) -> usize {
        self.with_nul.capacity()
    }
}

impl Clone for TextBuf {
    fn clone(&self) -> TextBuf {
        TextBuf {
            with_nul: self.with_nul.clone(),
        }
    }

    /// Reuses this buffer's allocation (the derived one would not).
    fn clone_from(&mut self, source: &TextBuf) {
        self.with_nul.clone_from(&source.with_nul);
    }
}

impl Default for TextBuf {
    fn default() -> TextBuf {
        TextBuf::new()
    }
}

impl std::fmt::Debug for TextBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_text().fmt(f)
    }
}

/// An owned [`Text`] whose clones share the bytes: for a value many messages carry, such as
/// a long last event ID that every later event repeats, so that it is copied once, not once
/// per message.
#[derive(Clone, PartialEq, Eq)]
pub struct SharedText(Arc<str>);

impl SharedText {
    /// A copy of `text`.
    pub fn new(text: Text<'_>) -> SharedText {
        SharedText(Arc::from(text.as_str_with_nul()))
    }

    #[inline]
    pub fn as_text(&self) -> Text<'_> {
        // `new` is the only constructor, and it copies a Text, terminator included.
        Text { with_nul: &self.0 }
    }

    /// How many clones of this copy exist.
    #[cfg(test)]
    pub(crate) fn clones(&self) -> usize {
        Arc::strong_count(&self.0)
    }

    /// Whether both are clones of the same copy.
    pub fn same_copy(a: &SharedText, b: &SharedText) -> bool {
        Arc::ptr_eq(&a.0, &b.0)
    }
}

impl std::fmt::Debug for SharedText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_text().fmt(f)
    }
}

impl std::fmt::Debug for Text<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq<str> for Text<'_> {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Text<'_> {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_text_without_the_terminator() {
        let text = Text::from_bytes_with_nul(b"abc\0");
        assert_eq!(text.as_str(), "abc");
        assert_eq!(text.as_bytes(), b"abc");
        assert_eq!(text.len(), 3);
        assert_eq!(text.as_bytes_with_nul(), b"abc\0");
    }

    #[test]
    fn keeps_interior_nul_bytes() {
        let text = Text::from_bytes_with_nul(b"a\0b\0");
        assert_eq!(text.as_str(), "a\0b");
    }

    #[test]
    fn shared_text_clones_share_one_copy() {
        let shared = SharedText::new(Text::from_bytes_with_nul(b"id-1\0"));
        let clone = shared.clone();
        assert!(SharedText::same_copy(&shared, &clone));
        assert_eq!(clone.as_text(), "id-1");
        assert_eq!(clone.as_text().as_bytes_with_nul(), b"id-1\0");
        let copy = SharedText::new(shared.as_text());
        assert_eq!(copy, shared);
        assert!(!SharedText::same_copy(&shared, &copy));
    }

    #[test]
    #[should_panic]
    fn rejects_a_buffer_without_terminator() {
        Text::from_bytes_with_nul(b"abc");
    }

    #[test]
    #[should_panic]
    fn rejects_invalid_utf8() {
        Text::from_bytes_with_nul(b"\xff\0");
    }

    #[test]
    fn views_a_str_with_nul_without_copying() {
        let with_nul = "é\0x\0";
        let text = Text::from_str_with_nul(with_nul);
        assert_eq!(text.as_str(), "é\0x");
        assert_eq!(text.as_str_with_nul().as_ptr(), with_nul.as_ptr());
        assert_eq!(Text::from_str_with_nul("\0"), Text::EMPTY);
    }

    #[test]
    fn a_text_buf_keeps_its_terminator_through_each_change() {
        let mut buf = TextBuf::new();
        assert!(buf.is_empty());
        assert_eq!(buf.as_text(), Text::EMPTY);
        buf.set("ünïcode");
        assert!(!buf.is_empty());
        assert_eq!(buf.as_text(), "ünïcode");
        assert_eq!(buf.as_text().as_bytes_with_nul(), "ünïcode\0".as_bytes());
        let copy = buf.clone();
        buf.set("");
        assert!(buf.is_empty());
        assert_eq!(buf.as_text().as_bytes_with_nul(), b"\0");
        buf.set("a\0b");
        assert_eq!(buf.as_text().as_bytes_with_nul(), b"a\0b\0");
        buf.clear();
        assert_eq!(buf.as_text(), Text::EMPTY);
        assert_eq!(copy.as_text(), "ünïcode");
        assert_eq!(format!("{copy:?}"), "\"ünïcode\"");
    }

    #[test]
    #[should_panic(expected = "NUL")]
    fn rejects_a_str_without_terminator() {
        Text::from_str_with_nul("abc");
    }

    #[test]
    #[should_panic(expected = "NUL")]
    fn rejects_the_empty_str() {
        Text::from_str_with_nul("");
    }
}
