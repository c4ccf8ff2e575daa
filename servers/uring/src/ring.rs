//! The loop's io_uring: its setup (sizes that fit RLIMIT_MEMLOCK, the single-issuer
//! flags with their fallbacks), how a submission names what it is for and is counted in
//! flight on its connection, and the one submit-and-wait per turn.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::Context;
use io_uring::{IoUring, Submitter, squeue, types};

use crate::conn::Conn;
use crate::pool::MAX_BUFFERS;

/// SQ entries asked for per ring, and CQ entries (the kernel rounds both to powers of 2).
const SQ_ENTRIES: u32 = 4096;
const CQ_ENTRIES: u32 = 4 * SQ_ENTRIES;
/// The fewest SQ entries a ring is shrunk to under a small RLIMIT_MEMLOCK.
const MIN_SQ_ENTRIES: u32 = 64;

/// What a completion is for: the top byte of its user_data; the rest is a slab key.
pub const ACCEPT: u64 = 1;
pub const RECV: u64 = 2;
pub const SEND: u64 = 3;
pub const TIMER: u64 = 4;
/// Cancel requests: their completions carry nothing the loop needs.
pub const CANCEL: u64 = 5;

/// The user_data of operation `op` of the connection in slab slot `key`.
pub fn user_data(op: u64, key: usize) -> u64 {
    op << 56 | key as u64
}

/// The operation and slab key a completion's user_data names.
pub fn op_of(data: u64) -> (u64, usize) {
    (data >> 56, (data & ((1 << 56) - 1)) as usize)
}

/// One loop's ring. Dropped before the provided-buffer pool: the kernel reads the pool's
/// entries until the ring goes.
pub struct Ring {
    uring: IoUring,
}

impl Ring {
    /// Makes a ring with SINGLE_ISSUER | DEFER_TASKRUN | COOP_TASKRUN, falling back to
    /// COOP_TASKRUN alone, then to no flags, with one line (per process) saying so.
    pub fn new(sq: u32, cq: u32) -> anyhow::Result<Ring> {
        static FELL_BACK: AtomicBool = AtomicBool::new(false);
        let mut full = IoUring::builder();
        full.setup_cqsize(cq)
            .setup_single_issuer()
            .setup_defer_taskrun()
            .setup_coop_taskrun();
        let first = match full.build(sq) {
            Ok(uring) => return Ok(Ring { uring }),
            Err(e) => e,
        };
        let mut coop = IoUring::builder();
        coop.setup_cqsize(cq).setup_coop_taskrun();
        let (uring, used) = match coop.build(sq) {
            Ok(uring) => (uring, "COOP_TASKRUN"),
            Err(_) => (
                IoUring::builder()
                    .setup_cqsize(cq)
                    .build(sq)
                    .context("io_uring_setup")?,
                "no setup flags",
            ),
        };
        if !FELL_BACK.swap(true, Ordering::Relaxed) {
            common::log!(
                "the kernel refused SINGLE_ISSUER|DEFER_TASKRUN|COOP_TASKRUN ({first}); using {used}"
            );
        }
        Ok(Ring { uring })
    }

    /// For registering the provided-buffer pool.
    pub fn submitter(&self) -> Submitter<'_> {
        self.uring.submitter()
    }

    /// Queues one SQE; when the SQ ring is full, submits what it holds first.
    ///
    /// # Safety
    /// Every buffer and timespec `sqe` points to must stay valid until its completion
    /// (the rules in the crate header: pool buffers held by the connection, its boxed
    /// FrameBuf and timespec, freed only when no operation is in flight).
    pub unsafe fn push(&mut self, sqe: squeue::Entry) -> io::Result<()> {
        loop {
            // SAFETY: the caller keeps what `sqe` points to alive (see above).
            if unsafe { self.uring.submission().push(&sqe) }.is_ok() {
                return Ok(());
            }
            self.uring.submit()?;
        }
    }

    /// Submits `sqe` as operation `op` (RECV, SEND or TIMER) of the connection `conn` in
    /// slab slot `key`, and counts it among the connection's operations in flight.
    ///
    /// # Safety
    /// As for [`Ring::push`].
    pub unsafe fn submit(
        &mut self,
        conn: &mut Conn,
        op: u64,
        key: usize,
        sqe: squeue::Entry,
    ) -> io::Result<()> {
        match op {
            RECV => (conn.recv_armed, conn.recv_cancelled) = (true, false),
            SEND => conn.sending = true,
            TIMER => conn.timer = true,
            _ => {}
        }
        conn.inflight += 1;
        // SAFETY: the caller keeps what `sqe` points to alive.
        unsafe { self.push(sqe.user_data(user_data(op, key))) }
    }

    /// Asks the kernel to cancel operation `op` of slab slot `key`.
    pub fn cancel(&mut self, op: u64, key: usize) -> io::Result<()> {
        let cancel = io_uring::opcode::AsyncCancel::new(user_data(op, key)).build();
        // SAFETY: a cancel points to nothing.
        unsafe { self.push(cancel.user_data(user_data(CANCEL, key))) }
    }

    /// The turn's one system call: submits what was queued and waits for at least one
    /// completion, or until `due`.
    pub fn submit_and_wait(&mut self, due: Option<Instant>) -> anyhow::Result<()> {
        let result = match due {
            None => self.uring.submit_and_wait(1),
            Some(due) => {
                let ts = types::Timespec::from(due.saturating_duration_since(Instant::now()));
                let args = types::SubmitArgs::new().timespec(&ts);
                self.uring.submitter().submit_with_args(1, &args)
            }
        };
        match result {
            Ok(_) => Ok(()),
            Err(e) => match e.raw_os_error() {
                // Timed out (a due time), interrupted, or completions to reap first.
                Some(libc::ETIME | libc::EINTR | libc::EBUSY) => Ok(()),
                _ => Err(e).context("io_uring_enter"),
            },
        }
    }

    /// Moves the completions that have come into `into`: (user_data, result, flags).
    pub fn reap(&mut self, into: &mut Vec<(u64, i32, u32)>) {
        into.extend(
            self.uring
                .completion()
                .map(|c| (c.user_data(), c.result(), c.flags())),
        );
    }
}

/// Bytes of locked memory one ring of `sq` SQ and `cq` CQ entries costs (SQEs, the SQ
/// index array, CQEs, the rings' headers, page-rounded) plus its pool's entry ring.
fn ring_bytes(sq: u32, cq: u32) -> u64 {
    let page = 4096u64;
    let round = |b: u64| b.div_ceil(page) * page;
    let sqes = round(sq as u64 * 64);
    let sq_ring = round(sq as u64 * 4 + 64);
    let cq_ring = round(cq as u64 * 16 + 64);
    let pool_ring = round(MAX_BUFFERS as u64 * 16);
    sqes + sq_ring + cq_ring + pool_ring
}

/// Ring sizes that fit `threads` rings under RLIMIT_MEMLOCK; says so in one line when the
/// defaults do not fit (or when even the smallest rings do not, before trying them).
pub fn sizes(threads: usize) -> (u32, u32) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit fills the struct it is given.
    let limit = if unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut lim) } == 0 {
        lim.rlim_cur
    } else {
        libc::RLIM_INFINITY
    };
    let (mut sq, mut cq) = (SQ_ENTRIES, CQ_ENTRIES);
    let fits =
        |sq, cq| limit == libc::RLIM_INFINITY || ring_bytes(sq, cq) * threads as u64 <= limit;
    while !fits(sq, cq) && sq > MIN_SQ_ENTRIES {
        (sq, cq) = (sq / 2, cq / 2);
    }
    if (sq, cq) != (SQ_ENTRIES, CQ_ENTRIES) || !fits(sq, cq) {
        common::log!(
            "RLIMIT_MEMLOCK {} KiB does not hold {threads} rings of {SQ_ENTRIES} SQ/{CQ_ENTRIES} \
             CQ entries ({} KiB each): using {sq}/{cq}{}",
            limit / 1024,
            ring_bytes(SQ_ENTRIES, CQ_ENTRIES) / 1024,
            if fits(sq, cq) {
                ""
            } else {
                ", which does not fit either (raise ulimit -l)"
            }
        );
    }
    (sq, cq)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_data_names_the_operation_and_the_slot() {
        for (op, key) in [
            (ACCEPT, 0),
            (RECV, 1),
            (SEND, 12345),
            (CANCEL, (1 << 56) - 1),
        ] {
            assert_eq!(op_of(user_data(op, key)), (op, key));
        }
    }
}
