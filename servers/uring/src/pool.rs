//! The loop's provided-buffer ring (io_uring "buf_ring"): `count` buffers of
//! `--buffer-size` bytes that the kernel picks from when a multishot recv has data, and
//! that the loop gives back once the bytes in them have been echoed.
//!
//! Ownership: a buffer is the kernel's while it sits in the ring; a recv completion names
//! the buffer it filled (its id), which then belongs to one connection until the send of
//! its last byte completes, when [`Pool::give_back`] puts it at the ring's tail. The tail
//! is published once per loop turn ([`Pool::commit`]), just before the submit.
//!
//! The buffers are one anonymous mapping, faulted in at start (MAP_POPULATE): the ring
//! hands buffers out in FIFO order, so under bulk traffic every buffer is touched sooner
//! or later, and the pool is the loop's read memory from the first second instead of
//! growing into it (as epoll's one read buffer is).

use std::io;
use std::sync::atomic::{AtomicU16, Ordering};

use io_uring::Submitter;
use io_uring::types::BufRingEntry;

/// The buffer group id of the pool (one group per ring).
pub const GROUP: u16 = 0;

/// Pool bytes aimed at per loop: the buffer count is this over `--buffer-size`, within
/// [`MIN_BUFFERS`]..=[`MAX_BUFFERS`] and a power of two.
pub const POOL_BYTES: usize = 16 << 20;
/// Fewest buffers in a pool, whatever the buffer size.
pub const MIN_BUFFERS: usize = 16;
/// Most buffers in a pool (the kernel allows 32768 ring entries).
pub const MAX_BUFFERS: usize = 4096;

/// Buffers per pool for a buffer size.
pub fn buffer_count(buffer_size: usize) -> usize {
    (POOL_BYTES / buffer_size.max(1))
        .clamp(MIN_BUFFERS, MAX_BUFFERS)
        .next_power_of_two()
        .min(MAX_BUFFERS)
}

/// One anonymous, private mapping, unmapped on drop.
struct Mapping {
    ptr: *mut u8,
    len: usize,
}

impl Mapping {
    fn new(len: usize, populate: bool) -> io::Result<Mapping> {
        let flags =
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | if populate { libc::MAP_POPULATE } else { 0 };
        // SAFETY: an anonymous mapping with no address hint; the result is checked.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                flags,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Mapping {
            ptr: ptr.cast(),
            len,
        })
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, unmapped once.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

/// The provided-buffer ring and the buffers it hands out.
pub struct Pool {
    /// Ring entries (page-aligned, registered with the kernel).
    entries: Mapping,
    buffers: Mapping,
    count: u16,
    buffer_size: usize,
    /// Our tail, published by `commit`.
    tail: u16,
    /// Buffers out of the ring (filled, not yet echoed).
    held: usize,
}

impl Pool {
    /// Maps `count` buffers of `buffer_size` bytes, registers their ring with the kernel
    /// under [`GROUP`] and provides every buffer. The ring the pool is registered with must
    /// be dropped before the pool (the kernel reads the entries until then).
    pub fn new(submitter: &Submitter<'_>, count: usize, buffer_size: usize) -> io::Result<Pool> {
        let ring_bytes = count * std::mem::size_of::<BufRingEntry>();
        let entries = Mapping::new(ring_bytes, false)?;
        let buffers = Mapping::new(count * buffer_size, true)?;
        // SAFETY: `entries` is a page-aligned mapping of `count` entries that lives as long
        // as the pool, which outlives the ring it is registered with (field order).
        unsafe {
            submitter.register_buf_ring_with_flags(entries.ptr as u64, count as u16, GROUP, 0)?
        };
        let mut pool = Pool {
            entries,
            buffers,
            count: count as u16,
            buffer_size,
            tail: 0,
            held: count,
        };
        for bid in 0..count as u16 {
            pool.give_back(bid);
        }
        pool.commit();
        Ok(pool)
    }

    /// Where buffer `bid` starts.
    pub fn ptr(&self, bid: u16) -> *mut u8 {
        debug_assert!(bid < self.count);
        // SAFETY: within the buffers mapping (bid < count).
        unsafe { self.buffers.ptr.add(bid as usize * self.buffer_size) }
    }

    /// A buffer the kernel filled is now the loop's.
    pub fn taken(&mut self) {
        self.held += 1;
    }

    /// True while the ring holds at least one buffer for a recv.
    pub fn has_free(&self) -> bool {
        self.held < self.count as usize
    }

    /// Puts buffer `bid` back at the ring's tail (published by the next `commit`).
    pub fn give_back(&mut self, bid: u16) {
        let mask = self.count - 1;
        let base = self.entries.ptr.cast::<BufRingEntry>();
        // SAFETY: the slot index is masked into the ring; the kernel reads only entries
        // between its head and the published tail, and this one is past the tail.
        let entry = unsafe { &mut *base.add((self.tail & mask) as usize) };
        entry.set_addr(self.ptr(bid) as u64);
        entry.set_len(self.buffer_size as u32);
        entry.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
        self.held -= 1;
    }

    /// Publishes the entries given back since the last commit.
    pub fn commit(&mut self) {
        let base = self.entries.ptr.cast::<BufRingEntry>();
        // SAFETY: the tail field shares the ring's first entry; it is a u16 the kernel
        // reads with acquire ordering, so it is written atomically with release ordering.
        unsafe {
            let tail = BufRingEntry::tail(base).cast::<AtomicU16>();
            (*tail).store(self.tail, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_powers_of_two_within_bounds() {
        assert_eq!(buffer_count(65536), 256);
        assert_eq!(buffer_count(64 << 20), MIN_BUFFERS);
        assert_eq!(buffer_count(1), MAX_BUFFERS);
        assert!(buffer_count(3000).is_power_of_two());
    }
}
