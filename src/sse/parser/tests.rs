//! Tests of the event-stream parser against WHATWG HTML §9.2.6 "Interpreting an event stream".
//!
//! Most rules are table cases written with `cases!`: each one is its own `#[test]` (fed in
//! one piece and checked against the expected sink calls) and also joins `CASES`, which the
//! chunking tests replay split at every byte, one byte at a time and in pseudo-random chunks.
//! Behaviour that needs several feeds or `reset_stream` has hand-written tests below.

use super::*;

/// What a sink saw, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Item {
    Event {
        event_type: String,
        data: String,
        id: String,
    },
    Comment(String),
    Retry(u64),
}

/// A sink that records everything, and checks every `Text` it is given and that every
/// event's ID is the one last announced through `Sink::last_event_id`.
#[derive(Default)]
struct Recorder {
    items: Vec<Item>,
    /// The last event ID as announced, once known (the start value is the test's).
    announced: Option<String>,
    /// How many times it was announced.
    announcements: usize,
}

fn owned(text: Text<'_>) -> String {
    let with_nul = text.as_bytes_with_nul();
    assert_eq!(with_nul.last(), Some(&0), "a Text must be NUL-terminated");
    assert_eq!(with_nul.len(), text.len() + 1);
    assert!(std::str::from_utf8(&with_nul[..text.len()]).is_ok());
    text.as_str().to_owned()
}

impl Sink for Recorder {
    fn event(&mut self, event: &Event<'_>) {
        if let Some(announced) = &self.announced {
            assert_eq!(
                event.id,
                announced.as_str(),
                "the ID was not announced first"
            );
        }
        self.items.push(Item::Event {
            event_type: owned(event.event_type),
            data: owned(event.data),
            id: owned(event.id),
        });
    }

    fn comment(&mut self, text: Text<'_>) {
        self.items.push(Item::Comment(owned(text)));
    }

    fn retry(&mut self, millis: u64) {
        self.items.push(Item::Retry(millis));
    }

    fn last_event_id(&mut self, id: Text<'_>) {
        self.announced = Some(owned(id));
        self.announcements += 1;
    }
}

/// An expected sink call, writable in a `const`.
#[derive(Clone, Copy, Debug)]
enum Exp {
    /// An event: type, data, id.
    Ev(&'static str, &'static str, &'static str),
    Comment(&'static str),
    Retry(u64),
}

use Exp::{Comment, Retry};

/// A "message" event.
const fn msg(data: &'static str, id: &'static str) -> Exp {
    Exp::Ev("message", data, id)
}

/// An event of another type.
const fn ev(event_type: &'static str, data: &'static str, id: &'static str) -> Exp {
    Exp::Ev(event_type, data, id)
}

impl Exp {
    fn to_item(self) -> Item {
        match self {
            Exp::Ev(event_type, data, id) => Item::Event {
                event_type: event_type.to_owned(),
                data: data.to_owned(),
                id: id.to_owned(),
            },
            Exp::Comment(text) => Item::Comment(text.to_owned()),
            Exp::Retry(millis) => Item::Retry(millis),
        }
    }
}

/// One table case: a whole stream, fed to a fresh parser.
#[derive(Clone, Copy, Debug)]
struct Case {
    stream: &'static [u8],
    expect: &'static [Exp],
    /// `last_event_id()` after the stream.
    last_id: &'static str,
    /// Passed to `set_last_event_id` before the stream.
    initial_id: Option<&'static str>,
    limit: usize,
    /// The stream ends with `Err(TooLarge { limit })` after the expected sink calls.
    too_large: bool,
}

impl Case {
    const fn new(stream: &'static [u8], expect: &'static [Exp]) -> Case {
        Case {
            stream,
            expect,
            last_id: "",
            initial_id: None,
            limit: 0,
            too_large: false,
        }
    }

    const fn last_id(self, last_id: &'static str) -> Case {
        Case { last_id, ..self }
    }

    const fn initial_id(self, id: &'static str) -> Case {
        Case {
            initial_id: Some(id),
            ..self
        }
    }

    /// Fits within `limit`.
    const fn limit(self, limit: usize) -> Case {
        Case { limit, ..self }
    }

    /// Exceeds `limit`.
    const fn too_large(self, limit: usize) -> Case {
        Case {
            limit,
            too_large: true,
            ..self
        }
    }
}

/// Everything observable after feeding a stream.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    items: Vec<Item>,
    last_id: String,
    result: Result<(), TooLarge>,
}

/// Feeds `chunks` to a fresh parser set up for `case`, stopping at the first error.
fn run<'a>(case: &Case, chunks: impl IntoIterator<Item = &'a [u8]>) -> Outcome {
    let mut parser = Parser::new(case.limit);
    if let Some(id) = case.initial_id {
        parser.set_last_event_id(id);
    }
    let mut sink = Recorder {
        announced: Some(case.initial_id.unwrap_or("").to_owned()),
        ..Recorder::default()
    };
    let mut result = Ok(());
    for chunk in chunks {
        result = parser.feed(chunk, &mut sink);
        if result.is_err() {
            break;
        }
    }
    Outcome {
        items: sink.items,
        last_id: parser.last_event_id().to_owned(),
        result,
    }
}

fn expected(case: &Case) -> Outcome {
    Outcome {
        items: case.expect.iter().map(|exp| exp.to_item()).collect(),
        last_id: case.last_id.to_owned(),
        result: if case.too_large {
            Err(TooLarge { limit: case.limit })
        } else {
            Ok(())
        },
    }
}

fn check(name: &str, case: &Case) {
    assert_eq!(run(case, [case.stream]), expected(case), "case {name}");
}

/// Declares table cases: one `#[test]` each, plus the `CASES` table.
macro_rules! cases {
    ($($(#[doc = $doc:literal])* $name:ident: $case:expr;)*) => {
        $(
            $(#[doc = $doc])*
            #[test]
            fn $name() {
                const CASE: Case = $case;
                check(stringify!($name), &CASE);
            }
        )*

        /// Every table case, for the chunking tests.
        const CASES: &[(&str, Case)] = &[$((stringify!($name), $case)),*];
    };
}

const MAX: u64 = u64::MAX;

cases! {
    // ---- Line ends ----------------------------------------------------------------------
    lf_ends_a_line: Case::new(b"data: a\n\n", &[msg("a", "")]);
    cr_ends_a_line: Case::new(b"data: a\r\r", &[msg("a", "")]);
    crlf_ends_a_line: Case::new(b"data: a\r\n\r\n", &[msg("a", "")]);
    /// The LF of a CRLF is not a second (blank) line.
    crlf_is_one_line_end_not_a_blank_line:
        Case::new(b"data: a\r\ndata: b\r\n\r\n", &[msg("a\nb", "")]);
    lf_then_cr_is_two_line_ends:
        Case::new(b"data: a\n\rdata: b\n\n", &[msg("a", ""), msg("b", "")]);
    cr_then_crlf_is_two_line_ends:
        Case::new(b"data: a\r\r\ndata: b\n\n", &[msg("a", ""), msg("b", "")]);
    mixed_line_ends_in_one_stream: Case::new(
        b"data: a\rdata: b\ndata: c\r\n\r\ndata: d\n\r\n",
        &[msg("a\nb\nc", ""), msg("d", "")],
    );

    // ---- Byte order mark ----------------------------------------------------------------
    leading_bom_is_stripped: Case::new(b"\xEF\xBB\xBFdata: a\n\n", &[msg("a", "")]);
    bom_alone_is_an_empty_stream: Case::new(b"\xEF\xBB\xBF", &[]);
    /// The second BOM is U+FEFF, part of the field name "\u{FEFF}data", which is unknown.
    second_bom_at_stream_start_is_data:
        Case::new(b"\xEF\xBB\xBF\xEF\xBB\xBFdata: a\n\ndata: b\n\n", &[msg("b", "")]);
    bom_inside_a_value_is_kept:
        Case::new(b"\xEF\xBB\xBFdata: \xEF\xBB\xBFa\n\n", &[msg("\u{FEFF}a", "")]);
    bom_is_only_stripped_at_stream_start_not_line_start:
        Case::new(b"data: a\n\n\xEF\xBB\xBFdata: b\n\n", &[msg("a", "")]);
    /// An incomplete BOM is not stripped: it decodes as U+FFFD in the first field name.
    incomplete_bom_is_line_content: Case::new(b"\xEF\xBBdata: a\n\n", &[]);

    // ---- Comments -----------------------------------------------------------------------
    comment_is_reported_without_the_colon: Case::new(b":hello\n", &[Comment("hello")]);
    comment_drops_one_leading_space: Case::new(
        b": one\n:  two\n: \n",
        &[Comment("one"), Comment(" two"), Comment("")],
    );
    empty_comment_is_reported: Case::new(b":\n", &[Comment("")]);
    comment_keeps_further_colons: Case::new(b":: a: b\n", &[Comment(": a: b")]);
    comment_inside_an_event_does_not_interrupt_it: Case::new(
        b"data: a\n: c\ndata: b\n\n",
        &[Comment("c"), msg("a\nb", "")],
    );
    comment_only_block_dispatches_nothing: Case::new(b": ping\n\n", &[Comment("ping")]);
    comment_with_invalid_utf8_is_replaced:
        Case::new(b": \xFFx\xE2\x82\n", &[Comment("\u{FFFD}x\u{FFFD}")]);

    // ---- Field / value splitting --------------------------------------------------------
    value_starts_after_the_first_colon: Case::new(b"data: a:b: c\n\n", &[msg("a:b: c", "")]);
    only_one_leading_space_is_removed: Case::new(b"data:  a\n\n", &[msg(" a", "")]);
    trailing_space_is_kept: Case::new(b"data: a \n\n", &[msg("a ", "")]);
    tab_after_colon_is_kept: Case::new(b"data:\ta\n\n", &[msg("\ta", "")]);
    data_without_colon_has_an_empty_value: Case::new(b"data\n\n", &[msg("", "")]);
    data_with_empty_value_appends_an_empty_line:
        Case::new(b"data:\ndata\ndata: x\ndata:\n\n", &[msg("\n\nx\n", "")]);
    data_lines_are_joined_with_lf:
        Case::new(b"data: a\ndata: b\ndata: c\n\n", &[msg("a\nb\nc", "")]);
    block_without_data_is_not_dispatched: Case::new(b"event: e\n\n\n\n", &[]);
    field_names_are_case_sensitive:
        Case::new(b"Data: a\nDATA: b\nEvent: e\ndata: c\n\n", &[msg("c", "")]);
    field_name_is_not_trimmed: Case::new(b"data : a\n data: b\n\n", &[]);
    unknown_fields_are_ignored: Case::new(b"foo: bar\nfoo\ndata: x\n\n", &[msg("x", "")]);
    invalid_utf8_in_field_name_makes_it_unknown: Case::new(b"d\xFFata: a\n\n", &[]);

    // ---- event --------------------------------------------------------------------------
    event_field_sets_the_type: Case::new(b"event: add\ndata: 1\n\n", &[ev("add", "1", "")]);
    event_type_is_reset_after_dispatch: Case::new(
        b"event: add\ndata: 1\n\ndata: 2\n\n",
        &[ev("add", "1", ""), msg("2", "")],
    );
    event_type_is_reset_by_a_block_without_data:
        Case::new(b"event: add\n\ndata: 1\n\n", &[msg("1", "")]);
    empty_event_type_means_message:
        Case::new(b"event: add\nevent:\ndata: 1\n\n", &[msg("1", "")]);
    last_event_field_wins: Case::new(b"event: a\nevent: b\ndata: 1\n\n", &[ev("b", "1", "")]);
    invalid_utf8_in_event_type_is_replaced:
        Case::new(b"event: \xFFx\ndata: 1\n\n", &[ev("\u{FFFD}x", "1", "")]);

    // ---- id -----------------------------------------------------------------------------
    id_is_attached_to_the_event:
        Case::new(b"id: 7\ndata: a\n\n", &[msg("a", "7")]).last_id("7");
    id_after_data_in_the_same_block_applies:
        Case::new(b"data: a\nid: 7\n\n", &[msg("a", "7")]).last_id("7");
    id_persists_across_events:
        Case::new(b"id: 1\ndata: a\n\ndata: b\n\n", &[msg("a", "1"), msg("b", "1")]).last_id("1");
    id_only_block_updates_the_last_event_id: Case::new(b"id: 5\n\n", &[]).last_id("5");
    id_only_block_applies_to_the_next_event:
        Case::new(b"id: 5\n\ndata: a\n\n", &[msg("a", "5")]).last_id("5");
    empty_id_resets_the_last_event_id:
        Case::new(b"id: 1\ndata: a\n\nid:\ndata: b\n\n", &[msg("a", "1"), msg("b", "")]);
    id_without_colon_resets_the_last_event_id:
        Case::new(b"id: 1\ndata: a\n\nid\ndata: b\n\n", &[msg("a", "1"), msg("b", "")]);
    id_with_nul_is_ignored:
        Case::new(b"id: 1\n\nid: a\0b\ndata: x\n\n", &[msg("x", "1")]).last_id("1");
    uncommitted_id_is_not_the_last_event_id:
        Case::new(b"data: a\n\nid: 9\ndata: b\n", &[msg("a", "")]);
    last_id_field_in_a_block_wins:
        Case::new(b"id: 1\nid: 2\ndata: a\n\n", &[msg("a", "2")]).last_id("2");
    id_value_keeps_inner_and_trailing_spaces:
        Case::new(b"id:  x \ndata: a\n\n", &[msg("a", " x ")]).last_id(" x ");
    invalid_utf8_in_id_is_replaced:
        Case::new(b"id: \xC3(\ndata: a\n\n", &[msg("a", "\u{FFFD}(")]).last_id("\u{FFFD}(");

    // ---- retry --------------------------------------------------------------------------
    retry_with_digits_is_reported: Case::new(b"retry: 1500\n", &[Retry(1500)]);
    retry_without_space_and_with_leading_zeros_is_decimal:
        Case::new(b"retry:007\nretry: 0\n", &[Retry(7), Retry(0)]);
    retry_with_non_digits_is_ignored: Case::new(
        b"retry: 15s\nretry: -1\nretry: +1\nretry: 1.5\nretry:  15\nretry: 15 \nretry: \xD9\xA1\n",
        &[],
    );
    empty_retry_is_ignored: Case::new(b"retry\nretry:\nretry: \n", &[]);
    huge_retry_saturates: Case::new(
        b"retry: 18446744073709551615\nretry: 18446744073709551616\nretry: 99999999999999999999999999999\n",
        &[Retry(MAX), Retry(MAX), Retry(MAX)],
    );
    retry_is_reported_in_stream_order_before_the_event:
        Case::new(b"data: a\nretry: 10\n\n", &[Retry(10), msg("a", "")]);
    retry_field_name_is_case_sensitive: Case::new(b"Retry: 10\n", &[]);

    // ---- End of stream ------------------------------------------------------------------
    unterminated_event_is_not_dispatched: Case::new(b"id: 1\ndata: a\n", &[]);
    unterminated_line_is_not_processed: Case::new(b"data: a\n\nretry: 5", &[msg("a", "")]);

    // ---- Bytes and UTF-8 ----------------------------------------------------------------
    nul_in_data_is_kept: Case::new(b"data: a\0b\ndata: \0\n\n", &[msg("a\0b\n\0", "")]);
    multibyte_utf8_is_decoded:
        Case::new(b"data: \xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\n\n", &[msg("é€😀", "")]);
    invalid_utf8_in_data_is_replaced: Case::new(b"data: a\xFFb\n\n", &[msg("a\u{FFFD}b", "")]);
    truncated_utf8_before_lf_is_one_replacement_character:
        Case::new(b"data: \xE2\x82\ndata: \xF0\x9F\x98\n\n", &[msg("\u{FFFD}\n\u{FFFD}", "")]);
    truncated_utf8_before_cr_is_one_replacement_character:
        Case::new(b"data: \xE2\x82\r\r", &[msg("\u{FFFD}", "")]);
    /// WHATWG UTF-8 decode: one U+FFFD per maximal subpart of an invalid sequence.
    invalid_utf8_is_replaced_per_maximal_subpart: Case::new(
        b"data: \xF0\x9F\x98\xE2\x82\xAC\xFF\xC0\xAF\xED\xA0\x80x\n\n",
        &[msg("\u{FFFD}€\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}x", "")],
    );

    // ---- Examples from the spec ---------------------------------------------------------
    spec_example_intro_messages: Case::new(
        b"data: This is the first message.\n\n\
          data: This is the second message, it\ndata: has two lines.\n\n\
          data: This is the third message.\n\n",
        &[
            msg("This is the first message.", ""),
            msg("This is the second message, it\nhas two lines.", ""),
            msg("This is the third message.", ""),
        ],
    );
    spec_example_add_and_remove_event_types: Case::new(
        b"event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\nevent: add\ndata: 113411\n\n",
        &[ev("add", "73857293", ""), ev("remove", "2153", ""), ev("add", "113411", "")],
    );
    spec_example_yhoo_lines_are_joined_with_lf:
        Case::new(b"data: YHOO\ndata: +2\ndata: 10\n\n", &[msg("YHOO\n+2\n10", "")]);
    spec_example_first_second_third_event_with_ids: Case::new(
        b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n",
        &[
            Comment("test stream"),
            msg("first event", "1"),
            msg("second event", ""),
            msg(" third event", ""),
        ],
    );
    spec_example_data_blocks_fire_empty_and_newline_events:
        Case::new(b"data\n\ndata\ndata\n\ndata:", &[msg("", ""), msg("\n", "")]);
    spec_example_space_after_colon_is_optional:
        Case::new(b"data:test\n\ndata: test\n\n", &[msg("test", ""), msg("test", "")]);

    // ---- Configured last event ID -------------------------------------------------------
    configured_id_is_used_until_the_server_sends_one: Case::new(
        b"data: a\n\n\nid: s\ndata: b\n\n",
        &[msg("a", "h"), msg("b", "s")],
    )
    .initial_id("h")
    .last_id("s");
    configured_id_survives_blank_lines:
        Case::new(b"\n\n: x\n\n", &[Comment("x")]).initial_id("h").last_id("h");
    empty_id_field_resets_a_configured_id: Case::new(b"id\n\n", &[]).initial_id("h");

    // ---- Size limit ---------------------------------------------------------------------
    event_at_exactly_the_limit_is_dispatched: Case::new(
        b"data: 0123456789\ndata: 0123456789\n\n",
        &[msg("0123456789\n0123456789", "")],
    )
    .limit(34);
    event_over_the_limit_is_too_large:
        Case::new(b"data: 0123456789\ndata: 0123456789\n\n", &[]).too_large(33);
    crlf_counts_two_bytes_toward_the_limit:
        Case::new(b"data: 0123456789\r\ndata: 0123456789\r\n\r\n", &[]).too_large(35);
    crlf_event_at_exactly_the_limit_is_dispatched: Case::new(
        b"data: 0123456789\r\ndata: 0123456789\r\n\r\n",
        &[msg("0123456789\n0123456789", "")],
    )
    .limit(36);
    events_before_an_oversized_one_are_delivered: Case::new(
        b"data: a\n\n: hi\nretry: 5\ndata: 0123456789abcdef\n\n",
        &[msg("a", ""), Comment("hi"), Retry(5)],
    )
    .too_large(20);
    single_huge_line_without_terminator_is_too_large:
        Case::new(b"data: 0123456789abcdefghij", &[]).too_large(16);
    huge_comment_line_is_too_large: Case::new(b": 0123456789abcdefghij\n", &[]).too_large(16);
    huge_unterminated_comment_is_too_large:
        Case::new(b": 0123456789abcdefghij", &[]).too_large(16);
    huge_unknown_field_line_is_too_large:
        Case::new(b"x-padding: 0123456789abcdefghij\n\n", &[]).too_large(16);
    comments_inside_an_event_do_not_accumulate: Case::new(
        b"data: 0123456789\n: heartbeat\n: heartbeat\n: heartbeat\ndata: x\n\n",
        &[
            Comment("heartbeat"),
            Comment("heartbeat"),
            Comment("heartbeat"),
            msg("0123456789\nx", ""),
        ],
    )
    .limit(30);
    blank_line_resets_the_event_size: Case::new(
        b"data: 0123456789\n\ndata: 0123456789\n\n",
        &[msg("0123456789", ""), msg("0123456789", "")],
    )
    .limit(20);
    field_lines_without_data_count_toward_the_limit:
        Case::new(b"id: 1\nid: 2\nid: 3\nid: 4\n\n", &[]).too_large(20);
    bom_does_not_count_toward_the_limit:
        Case::new(b"\xEF\xBB\xBFdata: a\n\n", &[msg("a", "")]).limit(8);
}

// ---- Hand-written tests: several feeds, reset_stream, limits over long runs ---------------

fn parser_with(limit: usize) -> (Parser, Recorder) {
    (Parser::new(limit), Recorder::default())
}

fn items(exps: &[Exp]) -> Vec<Item> {
    exps.iter().map(|exp| exp.to_item()).collect()
}

#[test]
fn cr_at_end_of_chunk_then_lf_is_one_line_end() {
    let (mut parser, mut sink) = parser_with(0);
    for chunk in ["data: a\r", "\ndata: b\r", "\n\r", "\n"] {
        parser.feed(chunk.as_bytes(), &mut sink).unwrap();
    }
    assert_eq!(sink.items, items(&[msg("a\nb", "")]));
}

#[test]
fn cr_at_end_of_chunk_then_other_byte_ends_the_line() {
    let (mut parser, mut sink) = parser_with(0);
    for chunk in ["data: a\r", "data: b\r", "\r", "", "data: c\r", "\r"] {
        parser.feed(chunk.as_bytes(), &mut sink).unwrap();
    }
    assert_eq!(sink.items, items(&[msg("a\nb", ""), msg("c", "")]));
}

#[test]
fn bom_split_across_feeds_is_stripped() {
    let (mut parser, mut sink) = parser_with(0);
    for chunk in [&b"\xEF"[..], b"", b"\xBB", b"\xBF", b"data: a\n\n"] {
        parser.feed(chunk, &mut sink).unwrap();
    }
    assert_eq!(sink.items, items(&[msg("a", "")]));
}

#[test]
fn incomplete_bom_split_across_feeds_is_line_content() {
    let (mut parser, mut sink) = parser_with(0);
    for chunk in [&b"\xEF"[..], b"\xBB", b"data: a\n\ndata: b\n\n"] {
        parser.feed(chunk, &mut sink).unwrap();
    }
    assert_eq!(sink.items, items(&[msg("b", "")]));
}

#[test]
fn bom_is_stripped_again_after_reset_stream() {
    let (mut parser, mut sink) = parser_with(0);
    parser.feed(b"\xEF\xBB\xBFdata: a\n\n", &mut sink).unwrap();
    parser.reset_stream();
    parser.feed(b"\xEF\xBB", &mut sink).unwrap();
    parser
        .feed(b"\xBFdata: b\n\n\xEF\xBB\xBFdata: c\n\n", &mut sink)
        .unwrap();
    assert_eq!(sink.items, items(&[msg("a", ""), msg("b", "")]));
}

#[test]
fn utf8_character_split_across_feeds_is_decoded() {
    let (mut parser, mut sink) = parser_with(0);
    for chunk in [
        &b"data: \xE2"[..],
        b"\x82",
        b"\xAC",
        b"\xF0\x9F",
        b"\x98\x80\n",
        b"\n",
    ] {
        parser.feed(chunk, &mut sink).unwrap();
    }
    assert_eq!(sink.items, items(&[msg("€😀", "")]));
}

#[test]
fn truncated_utf8_split_across_feeds_is_one_replacement_character() {
    let (mut parser, mut sink) = parser_with(0);
    for chunk in [
        &b"data: \xE2"[..],
        b"\x82",
        b"\nevent: \xF0",
        b"\x9F\r",
        b"\ndata: x\n\n",
    ] {
        parser.feed(chunk, &mut sink).unwrap();
    }
    assert_eq!(sink.items, items(&[ev("\u{FFFD}", "\u{FFFD}\nx", "")]));
}

#[test]
fn reset_stream_discards_an_unterminated_event() {
    let (mut parser, mut sink) = parser_with(0);
    parser.feed(b"event: e\ndata: a\n", &mut sink).unwrap();
    parser.reset_stream();
    parser.feed(b"\ndata: b\n\n", &mut sink).unwrap();
    assert_eq!(sink.items, items(&[msg("b", "")]));
}

#[test]
fn reset_stream_discards_a_partial_line() {
    let (mut parser, mut sink) = parser_with(0);
    parser.feed(b"data: a\n\nretry: 1", &mut sink).unwrap();
    parser.reset_stream();
    parser.feed(b"0\n\ndata: b\r", &mut sink).unwrap();
    parser.reset_stream();
    // The pending CR of the dead stream does not swallow this stream's first LF.
    parser.feed(b"\ndata: c\n\n", &mut sink).unwrap();
    assert_eq!(
        sink.items,
        items(&[msg("a", ""), msg("c", "")]),
        "`0` alone is an unknown field; no retry"
    );
}

#[test]
fn reset_stream_keeps_the_last_event_id() {
    let (mut parser, mut sink) = parser_with(0);
    parser.feed(b"id: 1\ndata: a\n\n", &mut sink).unwrap();
    parser.reset_stream();
    assert_eq!(parser.last_event_id(), "1");
    parser.feed(b"data: b\n\n", &mut sink).unwrap();
    assert_eq!(sink.items, items(&[msg("a", "1"), msg("b", "1")]));
    assert_eq!(parser.last_event_id(), "1");
}

#[test]
fn reset_stream_forgets_an_uncommitted_id() {
    let (mut parser, mut sink) = parser_with(0);
    parser
        .feed(b"id: 1\ndata: a\n\nid: 2\ndata: lost\n", &mut sink)
        .unwrap();
    parser.reset_stream();
    // The new stream's first blank line must not commit the dead stream's "2".
    parser.feed(b"\n", &mut sink).unwrap();
    assert_eq!(parser.last_event_id(), "1");
    parser.feed(b"data: b\n\n", &mut sink).unwrap();
    assert_eq!(sink.items, items(&[msg("a", "1"), msg("b", "1")]));
}

#[test]
fn reset_stream_forgets_an_uncommitted_empty_id() {
    let (mut parser, mut sink) = parser_with(0);
    parser.feed(b"id: 1\n\nid\n", &mut sink).unwrap();
    parser.reset_stream();
    parser.feed(b"\ndata: b\n\n", &mut sink).unwrap();
    assert_eq!(sink.items, items(&[msg("b", "1")]));
}

#[test]
fn set_last_event_id_sets_the_string_and_the_buffer() {
    let (mut parser, mut sink) = parser_with(0);
    assert_eq!(parser.last_event_id(), "");
    parser.set_last_event_id("host-7");
    assert_eq!(parser.last_event_id(), "host-7");
    parser.feed(b"\n\ndata: a\n\n", &mut sink).unwrap();
    assert_eq!(sink.items, items(&[msg("a", "host-7")]));
    parser.reset_stream();
    assert_eq!(parser.last_event_id(), "host-7");
}

#[test]
fn set_last_event_id_replaces_an_uncommitted_id() {
    let (mut parser, mut sink) = parser_with(0);
    parser.feed(b"id: server\n", &mut sink).unwrap();
    parser.set_last_event_id("host");
    parser.feed(b"data: a\n\n", &mut sink).unwrap();
    assert_eq!(sink.items, items(&[msg("a", "host")]));
}

#[test]
fn too_large_persists_until_reset_stream() {
    let (mut parser, mut sink) = parser_with(16);
    let error = Err(TooLarge { limit: 16 });
    assert_eq!(parser.feed(b"data: 0123456789abcdef\n", &mut sink), error);
    assert_eq!(parser.feed(b"\ndata: a\n\n", &mut sink), error);
    parser.reset_stream();
    assert_eq!(parser.feed(b"data: a\n\n", &mut sink), Ok(()));
    assert_eq!(sink.items, items(&[msg("a", "")]));
}

#[test]
fn too_large_drops_the_stream_buffers() {
    let (mut parser, mut sink) = parser_with(64);
    parser
        .feed(b"data: a\nevent: e\nid: 3\ndata: bcd", &mut sink)
        .unwrap();
    assert!(parser.feed(&[b'x'; 100], &mut sink).is_err());
    assert!(parser.line.is_empty() && parser.data.is_empty() && parser.event_type.is_empty());
    parser.reset_stream();
    parser.feed(b"\ndata: f\n\n", &mut sink).unwrap();
    assert_eq!(sink.items, items(&[msg("f", "")]));
}

#[test]
fn long_run_of_heartbeat_comments_never_triggers_too_large() {
    const BEATS: usize = 100_000;
    let mut stream = Vec::new();
    for i in 0..BEATS {
        stream.extend_from_slice(if i % 2 == 0 {
            b":\n"
        } else {
            b": heartbeat\r\n"
        });
    }
    stream.extend_from_slice(b"data: 0123456789\n\n");
    for chunk_size in [stream.len(), 4096, 7, 1] {
        let (mut parser, mut sink) = parser_with(24);
        for chunk in stream.chunks(chunk_size) {
            parser.feed(chunk, &mut sink).unwrap();
        }
        assert_eq!(sink.items.len(), BEATS + 1, "chunk size {chunk_size}");
        assert_eq!(sink.items[BEATS], msg("0123456789", "").to_item());
    }
}

#[test]
fn memory_stays_bounded_by_the_limit() {
    const LIMIT: usize = 1024;
    for start in [&b"data: "[..], b": ", b"x-unknown: ", b"data: a\ndata: "] {
        let (mut parser, mut sink) = parser_with(LIMIT);
        parser.feed(start, &mut sink).unwrap();
        let mut fed = start.len();
        let result = loop {
            if fed > 10 * LIMIT {
                break Ok(());
            }
            let result = parser.feed(&[b'y'; 100], &mut sink);
            if result.is_err() {
                break result;
            }
            fed += 100;
            assert!(parser.line.capacity() <= 2 * LIMIT);
        };
        assert_eq!(result, Err(TooLarge { limit: LIMIT }));
        assert!(fed <= LIMIT, "accepted {fed} bytes of one line");
        assert!(parser.line.capacity() <= 2 * LIMIT && parser.data.capacity() <= 2 * LIMIT);
    }
}

#[test]
fn buffers_are_reused_across_events() {
    let event = b"event: update\nid: 42\ndata: {\"price\": 10}\ndata: second line\n\n: ping\n\n";
    let (mut parser, mut sink) = parser_with(0);
    // Warm up twice: the two id buffers take turns (dispatch swaps them).
    for _ in 0..2 {
        parser.feed(event, &mut sink).unwrap();
        parser.feed(b"data: partial", &mut sink).unwrap();
        parser.feed(b" line\n\n", &mut sink).unwrap();
    }
    let buffers = |parser: &Parser| {
        let bytes = |buffer: &Vec<u8>| (buffer.as_ptr(), buffer.capacity());
        let text = |buffer: &TextBuf| (buffer.as_text().as_str().as_ptr(), buffer.capacity());
        let mut all = [
            bytes(&parser.line),
            bytes(&parser.data),
            text(&parser.event_type),
            text(&parser.id_buffer),
            text(&parser.last_id),
            text(&parser.scratch),
        ];
        // Dispatch swaps the two id buffers: the pair is the same allocations either way.
        all[3..5].sort();
        all
    };
    let before = buffers(&parser);
    for _ in 0..1000 {
        parser.feed(event, &mut sink).unwrap();
        parser.feed(b"data: partial", &mut sink).unwrap();
        parser.feed(b" line\n\n", &mut sink).unwrap();
    }
    assert_eq!(buffers(&parser), before, "a buffer was reallocated");
    assert_eq!(sink.items.len(), 2 * 1002 + 1002);
}

/// A parser, its recorder, and the 1 MiB ID it was fed (committed, no event).
fn after_a_1_mib_id() -> (Parser, Recorder, String) {
    let mut parser = Parser::new(0);
    let mut sink = Recorder::default();
    let id = "i".repeat(1 << 20);
    parser
        .feed(format!("id: {id}\n\n").as_bytes(), &mut sink)
        .unwrap();
    (parser, sink, id)
}

#[test]
#[cfg_attr(
    miri,
    ignore = "megabytes of input: hours under Miri; the same code paths run in smaller tests"
)]
fn a_long_id_is_announced_once_however_many_events_carry_it() {
    let (mut parser, mut sink, id) = after_a_1_mib_id();
    for _ in 0..1000 {
        parser.feed(b"data: x\n\n", &mut sink).unwrap();
    }
    assert_eq!(sink.announcements, 1);
    assert_eq!(sink.announced.as_deref(), Some(id.as_str()));
    assert_eq!(sink.items.len(), 1000);
    // An `id` field announces again, even with the same value: a dispatch committed it.
    parser
        .feed(b"id: 2\ndata: y\n\nid: 2\n\n", &mut sink)
        .unwrap();
    assert_eq!(sink.announcements, 3);
}

#[test]
#[cfg_attr(
    miri,
    ignore = "megabytes of input: hours under Miri; the same code paths run in smaller tests"
)]
fn a_replaced_huge_id_does_not_keep_its_memory() {
    let (mut parser, mut sink, _) = after_a_1_mib_id();
    parser.feed(b"id: 1\n\nid: 2\n\n", &mut sink).unwrap();
    let held = parser.last_id.capacity() + parser.id_buffer.capacity();
    assert!(
        held <= 2 * KEEP_ID_CAPACITY,
        "{held} bytes held for two short IDs"
    );
    assert_eq!(parser.last_event_id(), "2");
}

/// Records events and comments, and stops the feed after `stop_after` of them.
struct Stopper {
    seen: Vec<String>,
    stop_after: usize,
}

impl Sink for Stopper {
    fn event(&mut self, event: &Event<'_>) {
        self.seen.push(owned(event.data));
    }
    fn comment(&mut self, text: Text<'_>) {
        self.seen.push(format!(":{}", owned(text)));
    }
    fn retry(&mut self, _: u64) {}
    fn keep_going(&self) -> bool {
        self.seen.len() < self.stop_after
    }
}

#[test]
fn a_sink_that_stops_ends_the_feed_after_the_event_or_comment_in_hand() {
    let stream = b"data: a\n\n: beat\ndata: b\n\ndata: c\n\n";
    for (stop_after, expected) in [
        (1, &["a"][..]),
        (2, &["a", ":beat"]),
        (3, &["a", ":beat", "b"]),
        (9, &["a", ":beat", "b", "c"]),
    ] {
        let mut sink = Stopper {
            seen: Vec::new(),
            stop_after,
        };
        assert_eq!(Parser::new(0).feed(stream, &mut sink), Ok(()));
        assert_eq!(sink.seen, expected, "stop after {stop_after}");
    }
}

#[test]
fn nul_in_data_is_carried_by_the_length() {
    struct Check;
    impl Sink for Check {
        fn event(&mut self, event: &Event<'_>) {
            assert_eq!(event.data.len(), 3);
            assert_eq!(event.data.as_bytes_with_nul(), b"a\0b\0");
        }
        fn comment(&mut self, _: Text<'_>) {}
        fn retry(&mut self, _: u64) {}
    }
    Parser::new(0).feed(b"data: a\0b\n\n", &mut Check).unwrap();
}

// ---- Chunking invariance ---------------------------------------------------------------

#[test]
fn every_case_gives_the_same_result_split_in_two_at_every_byte() {
    for (name, case) in CASES {
        let whole = run(case, [case.stream]);
        assert_eq!(whole, expected(case), "case {name}");
        for at in 0..=case.stream.len() {
            let (a, b) = case.stream.split_at(at);
            assert_eq!(run(case, [a, b]), whole, "case {name} split at {at}");
        }
    }
}

#[test]
fn every_case_gives_the_same_result_one_byte_at_a_time() {
    for (name, case) in CASES {
        let whole = run(case, [case.stream]);
        assert_eq!(run(case, case.stream.chunks(1)), whole, "case {name}");
    }
}

/// xorshift64: a fixed, dependency-free pseudo-random sequence.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Splits `stream` into chunks of 0 to `max` bytes.
fn random_chunks<'a>(stream: &'a [u8], rng: &mut XorShift, max: usize) -> Vec<&'a [u8]> {
    let mut chunks = Vec::new();
    let mut rest = stream;
    while !rest.is_empty() {
        let (chunk, tail) = rest.split_at(rng.below(max + 1).min(rest.len()));
        chunks.push(chunk);
        rest = tail;
    }
    chunks
}

#[test]
fn every_case_gives_the_same_result_in_pseudo_random_chunks() {
    let mut rng = XorShift(0x5EED_CAFE_F00D_1234);
    for (name, case) in CASES {
        let whole = run(case, [case.stream]);
        for round in 0..50 {
            let chunks = random_chunks(case.stream, &mut rng, 1 + round % 9);
            assert_eq!(
                run(case, chunks.iter().copied()),
                whole,
                "case {name}: {chunks:?}"
            );
        }
    }
    // All streams back to back: one long stream across many chunk boundaries.
    let long: Vec<u8> = CASES
        .iter()
        .flat_map(|(_, case)| case.stream.iter().copied())
        .collect();
    let case = Case::new(&[], &[]);
    let whole = run(&case, [&long[..]]);
    assert!(whole.items.len() > 50);
    for max in [3, 16, 100, 1000] {
        assert_eq!(
            run(&case, random_chunks(&long, &mut rng, max)),
            whole,
            "max chunk {max}"
        );
    }
}

/// The spec, transcribed naively: decode everything, then split lines and fields as strings.
fn reference(stream: &[u8]) -> Outcome {
    let decoded = String::from_utf8_lossy(stream);
    let mut rest = decoded.strip_prefix('\u{FEFF}').unwrap_or(&decoded);
    let (mut data, mut event_type) = (String::new(), String::new());
    let (mut id_buffer, mut last_id) = (String::new(), String::new());
    let mut items = Vec::new();
    while let Some(end) = rest.find(['\r', '\n']) {
        let line = &rest[..end];
        rest = &rest[end
            + if rest[end..].starts_with("\r\n") {
                2
            } else {
                1
            }..];
        if line.is_empty() {
            last_id = id_buffer.clone();
            if !data.is_empty() {
                data.pop();
                items.push(Item::Event {
                    event_type: if event_type.is_empty() {
                        "message".into()
                    } else {
                        event_type
                    },
                    data,
                    id: last_id.clone(),
                });
            }
            (data, event_type) = (String::new(), String::new());
            continue;
        }
        if let Some(comment) = line.strip_prefix(':') {
            items.push(Item::Comment(
                comment.strip_prefix(' ').unwrap_or(comment).into(),
            ));
            continue;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "event" => event_type = value.into(),
            "data" => {
                data.push_str(value);
                data.push('\n');
            }
            "id" if !value.contains('\0') => id_buffer = value.into(),
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                items.push(Item::Retry(value.parse().unwrap_or(u64::MAX)))
            }
            _ => {}
        }
    }
    Outcome {
        items,
        last_id,
        result: Ok(()),
    }
}

/// Pieces of random streams: field names, separators, line ends, UTF-8 fragments, BOMs.
const TOKENS: &[&[u8]] = &[
    b"data",
    b"data",
    b"data:",
    b"data: ",
    b"event:",
    b"id:",
    b"id",
    b"retry:",
    b":",
    b" ",
    b"x",
    b"42",
    b"\r",
    b"\n",
    b"\n",
    b"\r\n",
    b"\0",
    b"\xC3\xA9",
    b"\xE2\x82",
    b"\xAC",
    b"\xFF",
    b"\xEF\xBB\xBF",
    b"\xEF\xBB",
    b"message",
];

fn random_stream(rng: &mut XorShift, stream: &mut Vec<u8>) {
    stream.clear();
    for _ in 0..rng.below(60) {
        stream.extend_from_slice(TOKENS[rng.below(TOKENS.len())]);
    }
}

#[test]
fn pseudo_random_streams_match_a_naive_reading_of_the_spec() {
    let mut rng = XorShift(0x0DDB_A11C_0FFE_E5E5);
    let mut stream = Vec::new();
    for round in 0..3000 {
        random_stream(&mut rng, &mut stream);
        let want = reference(&stream);
        let case = Case::new(&[], &[]);
        assert_eq!(run(&case, [&stream[..]]), want, "round {round}: {stream:?}");
        let chunks = random_chunks(&stream, &mut rng, 1 + round % 12);
        assert_eq!(
            run(&case, chunks.iter().copied()),
            want,
            "round {round}: {chunks:?}"
        );
    }
}

#[test]
fn pseudo_random_streams_hit_the_size_limit_the_same_in_any_chunking() {
    let mut rng = XorShift(0xB16B_00B5_0BAD_F00D);
    let mut stream = Vec::new();
    let mut errors = 0;
    for round in 0..3000 {
        random_stream(&mut rng, &mut stream);
        let case = Case::new(&[], &[]).limit(1 + rng.below(40));
        let whole = run(&case, [&stream[..]]);
        errors += usize::from(whole.result.is_err());
        assert_eq!(
            run(&case, stream.chunks(1)),
            whole,
            "round {round}: {stream:?}"
        );
        let chunks = random_chunks(&stream, &mut rng, 1 + round % 12);
        assert_eq!(
            run(&case, chunks.iter().copied()),
            whole,
            "round {round}: {chunks:?}"
        );
    }
    assert!(errors > 100, "only {errors} streams hit the limit");
}

#[test]
#[cfg_attr(
    miri,
    ignore = "megabytes of input: hours under Miri; the same code paths run in smaller tests"
)]
fn a_huge_event_does_not_pin_its_memory_afterwards() {
    let (mut parser, mut sink) = parser_with(0);
    let mut huge = b"data: ".to_vec();
    huge.extend(std::iter::repeat_n(b'x', 4 << 20));
    huge.extend_from_slice(b"\n\n");
    // Fed in two pieces, so the line goes through the line buffer too.
    let (first, second) = huge.split_at(1 << 20);
    parser.feed(first, &mut sink).unwrap();
    parser.feed(second, &mut sink).unwrap();
    assert_eq!(sink.items.len(), 1);
    assert!(
        parser.data.capacity() <= 256 * 1024,
        "{}",
        parser.data.capacity()
    );
    assert!(
        parser.line.capacity() <= 256 * 1024,
        "{}",
        parser.line.capacity()
    );
}

#[test]
#[cfg_attr(
    miri,
    ignore = "megabytes of input: hours under Miri; the same code paths run in smaller tests"
)]
fn a_run_of_large_events_keeps_its_buffers_and_small_events_release_them() {
    let (mut parser, mut sink) = parser_with(0);
    let mut large = b"data: ".to_vec();
    large.extend(std::iter::repeat_n(b'x', 1 << 20));
    large.extend_from_slice(b"\n\n");
    let (first, second) = large.split_at(1 << 19);
    let mut capacities = Vec::new();
    for _ in 0..3 {
        parser.feed(first, &mut sink).unwrap();
        parser.feed(second, &mut sink).unwrap();
        capacities.push((parser.data.capacity(), parser.line.capacity()));
    }
    assert_eq!(sink.items.len(), 3);
    // The first large event is a one-off as far as the parser knows; from the second on it
    // is a run, and the buffers stay (no regrowing, no copying, per event).
    assert!(capacities[0].0 <= 256 * 1024, "{capacities:?}");
    assert!(
        capacities[1].0 > 1 << 20 && capacities[2].0 > 1 << 20,
        "{capacities:?}"
    );
    assert!(capacities[2].1 >= 1 << 19, "{capacities:?}");
    // The line that spans feeds becomes the data buffer, and the data buffer the line
    // buffer: the two allocations trade places, and neither is reallocated.
    let pair = |parser: &Parser| {
        let mut pair = [parser.data.as_ptr(), parser.line.as_ptr()];
        pair.sort();
        pair
    };
    let before = pair(&parser);
    parser.feed(first, &mut sink).unwrap();
    parser.feed(second, &mut sink).unwrap();
    assert_eq!(
        pair(&parser),
        before,
        "the buffers were reused as they were"
    );
    assert_eq!(sink.items.len(), 4);
    // The run ends: a small event after it gives the memory back.
    parser.feed(b"data: small\n\n", &mut sink).unwrap();
    assert!(
        parser.data.capacity() <= 256 * 1024,
        "{}",
        parser.data.capacity()
    );
}

// ---- ASCII lines skip validation: the non-ASCII flag must follow the bytes ----------------

#[test]
fn non_ascii_byte_in_a_carried_over_partial_line_is_validated() {
    // The completing feed is pure ASCII; the invalid byte came in the earlier one.
    for split in [
        &[&b"data: \xFF"[..], b"x\n\n"][..],
        &[b"data: a\xFF", b"", b"x", b"\n\n"],
    ] {
        let (mut parser, mut sink) = parser_with(0);
        for chunk in split {
            parser.feed(chunk, &mut sink).unwrap();
        }
        let data = if split.len() == 2 {
            "\u{FFFD}x"
        } else {
            "a\u{FFFD}x"
        };
        assert_eq!(sink.items, items(&[msg(data, "")]));
    }
}

#[test]
fn non_ascii_partial_line_flag_does_not_outlive_its_line() {
    let (mut parser, mut sink) = parser_with(0);
    for chunk in [
        &b"event: \xC3"[..],
        b"\xA9\ndata: a\n\n",
        b"id: \xE2\x82",
        b"\r\n\n",
    ] {
        parser.feed(chunk, &mut sink).unwrap();
    }
    assert_eq!(sink.items, items(&[ev("é", "a", "")]));
    assert_eq!(parser.last_event_id(), "\u{FFFD}");
}

#[test]
fn invalid_utf8_split_across_feeds_in_every_field() {
    let stream: &[u8] = b"event: \xF0\x9F\nid: x\xC3\ndata: \xE2\n: \xED\xA0\x80\ndata: ok\n\n";
    let want = [
        Comment("\u{FFFD}\u{FFFD}\u{FFFD}"),
        ev("\u{FFFD}", "\u{FFFD}\nok", "x\u{FFFD}"),
    ];
    for at in 0..=stream.len() {
        let (mut parser, mut sink) = parser_with(0);
        parser.feed(&stream[..at], &mut sink).unwrap();
        parser.feed(&stream[at..], &mut sink).unwrap();
        assert_eq!(sink.items, items(&want), "split at {at}");
    }
}

#[test]
fn one_non_ascii_data_line_makes_the_whole_event_validated() {
    // The invalid line comes first, then a long ASCII line in another 64-byte block.
    let mut stream = b"data: \xFFa\ndata: ".to_vec();
    stream.extend_from_slice(&[b'b'; 100]);
    stream.extend_from_slice(b"\n\ndata: c\n\n");
    let (mut parser, mut sink) = parser_with(0);
    parser.feed(&stream, &mut sink).unwrap();
    let second = format!("\u{FFFD}a\n{}", "b".repeat(100));
    assert_eq!(sink.items.len(), 2);
    assert_eq!(
        sink.items[0],
        Item::Event {
            event_type: "message".into(),
            data: second,
            id: String::new()
        }
    );
    assert_eq!(sink.items[1], msg("c", "").to_item());
}

#[test]
fn incomplete_bom_carried_into_the_first_line_is_validated() {
    let (mut parser, mut sink) = parser_with(0);
    for chunk in [&b"\xEF\xBB"[..], b":x\n", b"data: a\n\n"] {
        parser.feed(chunk, &mut sink).unwrap();
    }
    // "\xEF\xBB:x" is a field line named U+FFFD (unknown); then the event.
    assert_eq!(sink.items, items(&[msg("a", "")]));
    let (mut parser, mut sink) = parser_with(0);
    for chunk in [&b"\xEF"[..], b"data: a\n\n"] {
        parser.feed(chunk, &mut sink).unwrap();
    }
    assert_eq!(sink.items, items(&[]));
}

// ---- A data line completed from the line buffer is adopted, not copied ----------------------

#[test]
fn an_adopted_data_line_gives_what_a_copied_one_gives_at_every_split() {
    // First data line non-ASCII (valid and invalid UTF-8), more data lines after it, CRLF,
    // a CR alone, an event with a type and an id; at every split point of each stream
    // the result must equal the unsplit one (which copies: its lines never span feeds).
    let streams: [&[u8]; 4] = [
        b"data: h\xC3\xA9llo w\xFFrld\r\ndata: second\r\n\r\ndata:x\n\n",
        b"event: t\nid: 7\ndata: first\rdata: two\r\rdata\n\n",
        b"data:  two spaces\n: comment\ndata: more\n\n",
        b"data: \xE2\x82\n\n",
    ];
    for stream in streams {
        let case = Case::new(stream, &[]);
        let whole = run(&case, [stream]);
        assert_eq!(whole.result, Ok(()));
        for split in 1..stream.len() {
            let (a, b) = stream.split_at(split);
            assert_eq!(run(&case, [a, b]), whole, "split at {split}: {stream:?}");
        }
        // And under every size limit: split or not, the same events and the same error.
        for limit in 1..=stream.len() {
            let case = Case::new(stream, &[]).limit(limit);
            let whole = run(&case, [stream]);
            for split in 1..stream.len() {
                let (a, b) = stream.split_at(split);
                assert_eq!(run(&case, [a, b]), whole, "limit {limit}, split {split}");
            }
        }
    }
}
