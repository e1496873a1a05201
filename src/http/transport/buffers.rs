//! The input and output buffers of a [`SocketTransport`](super::SocketTransport): ureq's
//! `LazyBuffers`, except that the input buffer grows while reads keep filling it.
//!
//! Why: every read of the socket is a system call, and 16 KiB reads made the worker spend
//! about a quarter of a firehose stream's time entering and leaving the kernel (multi-line
//! events, callback mode: 55 → 40 ms per 200,000 events with 64 KiB). A fixed 64 KiB buffer
//! would cost a thousand idle streams 64 MB, because the buffer is written when it is
//! allocated. So it starts small and doubles, up to `max_input`, each time a read fills
//! all the room it had: that happens only while more bytes are waiting than it holds.

use ureq::unversioned::transport::Buffers;

/// Below this much room for the request body's scratch space, the input buffer grows (as
/// ureq's own buffers do).
const MIN_TMP_SIZE: usize = 10 * 1024;

#[derive(Debug)]
pub(crate) struct GrowingBuffers {
    /// Allocated on first use; `input[consumed..filled]` is what ureq has not consumed.
    input: Vec<u8>,
    filled: usize,
    consumed: usize,
    /// The size the input buffer starts at, and the most it grows to.
    initial_input: usize,
    max_input: usize,
    /// The last read filled all the room the input buffer had: the next one gets more.
    grow: bool,
    output: Vec<u8>,
    output_size: usize,
    /// The last consume took bytes (see [`Buffers::can_use_input`]).
    progress: bool,
}

impl GrowingBuffers {
    pub fn new(initial_input: usize, max_input: usize, output_size: usize) -> GrowingBuffers {
        GrowingBuffers {
            input: Vec::new(),
            filled: 0,
            consumed: 0,
            initial_input,
            max_input: max_input.max(initial_input),
            grow: false,
            output: Vec::new(),
            output_size,
            progress: false,
        }
    }

    /// The input buffer's size now (0 before the first use).
    #[cfg(test)]
    fn input_capacity(&self) -> usize {
        self.input.len()
    }

    /// Makes the input buffer at least `size` bytes long.
    fn reserve_input(&mut self, size: usize) {
        if self.input.len() < size {
            self.input.resize(size, 0);
        }
    }

    /// Moves the unconsumed bytes to the front when that makes room worth having.
    fn shift(&mut self) {
        if self.consumed == self.filled {
            self.consumed = 0;
            self.filled = 0;
        } else if self.consumed > 0 && self.filled > self.input.len() / 2 {
            self.input.copy_within(self.consumed..self.filled, 0);
            self.filled -= self.consumed;
            self.consumed = 0;
        }
    }
}

impl Buffers for GrowingBuffers {
    fn output(&mut self) -> &mut [u8] {
        if self.output.len() < self.output_size {
            self.output.resize(self.output_size, 0);
        }
        &mut self.output
    }

    fn input(&self) -> &[u8] {
        &self.input[self.consumed..self.filled]
    }

    fn input_append_buf(&mut self) -> &mut [u8] {
        let mut size = self.input.len().max(self.initial_input);
        if std::mem::take(&mut self.grow) {
            size = (size * 2).min(self.max_input.max(size));
        }
        self.reserve_input(size);
        self.shift();
        &mut self.input[self.filled..]
    }

    fn input_appended(&mut self, amount: usize) {
        let room = self.input.len() - self.filled;
        assert!(
            amount <= room,
            "appended {amount} bytes into {room} of room"
        );
        self.grow = amount > 0 && amount == room;
        self.filled += amount;
    }

    fn input_consume(&mut self, amount: usize) {
        assert!(amount <= self.filled - self.consumed);
        self.progress = amount > 0;
        self.consumed += amount;
    }

    fn tmp_and_output(&mut self) -> (&mut [u8], &mut [u8]) {
        self.reserve_input(self.initial_input);
        self.shift();
        let room = self.input.len() - self.filled;
        if room < MIN_TMP_SIZE {
            self.reserve_input(self.filled + MIN_TMP_SIZE);
        }
        if self.output.len() < self.output_size {
            self.output.resize(self.output_size, 0);
        }
        (&mut self.input[self.filled..], &mut self.output)
    }

    fn can_use_input(&self) -> bool {
        self.filled > self.consumed && self.progress
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Appends `bytes` as a read would: into the append buffer, then `input_appended`.
    fn read(buffers: &mut GrowingBuffers, bytes: &[u8]) -> usize {
        let room = buffers.input_append_buf();
        let n = bytes.len().min(room.len());
        room[..n].copy_from_slice(&bytes[..n]);
        buffers.input_appended(n);
        n
    }

    fn consume_all(buffers: &mut GrowingBuffers) -> Vec<u8> {
        let taken = buffers.input().to_vec();
        buffers.input_consume(taken.len());
        taken
    }

    #[test]
    fn nothing_is_allocated_before_the_first_use() {
        let buffers = GrowingBuffers::new(16, 64, 8);
        assert_eq!(buffers.input_capacity(), 0);
        assert!(buffers.output.is_empty());
    }

    #[test]
    fn reads_that_fill_the_buffer_double_it_up_to_the_maximum() {
        let mut buffers = GrowingBuffers::new(16, 64, 8);
        let data = [7u8; 200];
        let mut sizes = Vec::new();
        for _ in 0..5 {
            let n = read(&mut buffers, &data);
            sizes.push(n);
            assert_eq!(consume_all(&mut buffers).len(), n);
        }
        assert_eq!(sizes, [16, 32, 64, 64, 64]);
    }

    #[test]
    fn reads_that_leave_room_do_not_grow_it() {
        let mut buffers = GrowingBuffers::new(16, 64, 8);
        for _ in 0..5 {
            assert_eq!(read(&mut buffers, &[1u8; 10]), 10);
            consume_all(&mut buffers);
        }
        assert_eq!(buffers.input_capacity(), 16);
    }

    #[test]
    fn unconsumed_bytes_survive_growth_and_shifting() {
        let mut buffers = GrowingBuffers::new(16, 64, 8);
        let stream: Vec<u8> = (0..=255u8).cycle().take(600).collect();
        let mut sent = 0;
        let mut received = Vec::new();
        while received.len() < stream.len() {
            sent += read(&mut buffers, &stream[sent..]);
            // Consume a bit less than half of what is there, as a parser that waits for
            // the rest of a line would.
            let available = buffers.input().len();
            let take = (available / 2).max(usize::from(sent == stream.len()) * available);
            received.extend_from_slice(&buffers.input()[..take]);
            buffers.input_consume(take);
        }
        assert_eq!(received, stream);
        assert!(buffers.input_capacity() <= 64);
    }

    #[test]
    fn input_is_usable_only_after_a_consume_that_made_progress() {
        let mut buffers = GrowingBuffers::new(16, 64, 8);
        read(&mut buffers, b"HTTP/1.1 2");
        assert!(!buffers.can_use_input(), "nothing consumed yet");
        buffers.input_consume(0);
        assert!(!buffers.can_use_input(), "no progress: read more first");
        buffers.input_consume(5);
        assert!(buffers.can_use_input());
        buffers.input_consume(5);
        assert!(!buffers.can_use_input(), "all consumed");
    }

    #[test]
    fn the_request_body_scratch_space_is_at_least_ten_kib() {
        let mut buffers = GrowingBuffers::new(1024, 4096, 8);
        read(&mut buffers, &[0u8; 600]);
        let (tmp, output) = buffers.tmp_and_output();
        assert!(tmp.len() >= MIN_TMP_SIZE, "{}", tmp.len());
        assert_eq!(output.len(), 8);
        assert_eq!(buffers.input().len(), 600, "unconsumed input kept");
    }
}
