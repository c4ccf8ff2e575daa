//! The pool: `--threads` workers that take batches of units from the loop, run each
//! request's workload (`common::work`, with a blocking sleep for the backend wait: a
//! worker is a plain thread), and hand the units back as replies, waking the loop only
//! when it sleeps. Nothing here touches a socket.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering, fence};
use std::time::Instant;

use common::Workload;
use crossbeam_channel::{Receiver, Sender};
use mio::Waker;

/// Stack per worker: the workload needs a few KiB; the units are on the heap.
const STACK_SIZE: usize = 64 << 10;

/// One unit of a connection's input on its way to a worker: a read chunk (raw mode) or a
/// whole frame, header included (framed mode). It comes back as the reply, the same bytes
/// in the same buffer.
pub struct Unit {
    /// The connection's slab key.
    pub key: usize,
    /// The connection's id: a later connection in the same slab slot has another.
    pub id: u64,
    /// Its place in the connection's order of units, from 0.
    pub seq: u64,
    /// The bytes, `buf[..len]`; the buffer may be longer (a reused frame buffer).
    pub buf: Vec<u8>,
    pub len: usize,
    /// When the request's first byte was read (with `--stats-file`).
    pub started: Option<Instant>,
}

/// Units handed over together: one channel operation, and at most one wake-up, for all
/// of them. The loop sends what one turn read, cut into at most `--threads` batches; a
/// worker sends back a batch it served without work whole (the same vector, reused by the
/// loop), and each unit that ran a workload alone, as soon as it is done.
pub type Batch = Vec<Unit>;

/// How workers wake the loop: through its `mio::Waker` (an eventfd write), and only while
/// it sleeps in epoll_wait or is about to. A reply sent while the loop is busy is taken in
/// its next turn without a system call.
pub struct LoopWake {
    waker: Waker,
    /// Set by the loop before it waits, cleared when it wakes or is woken.
    parked: AtomicBool,
}

impl LoopWake {
    pub fn new(waker: Waker) -> LoopWake {
        LoopWake {
            waker,
            parked: AtomicBool::new(false),
        }
    }

    /// The loop is about to wait: replies sent from now on wake it. The loop must look for
    /// replies after this and before it waits: then either it sees a reply, or the
    /// worker that sent it sees `parked` (the fences order both sides' store before
    /// their load).
    pub fn park(&self) {
        self.parked.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
    }

    /// The loop is awake: replies are taken without waking it.
    pub fn unpark(&self) {
        self.parked.store(false, Ordering::Relaxed);
    }

    /// A worker has sent a reply: wakes the loop if it sleeps. A failed wake-up leaves the
    /// reply for the loop's next turn.
    fn reply_sent(&self) {
        fence(Ordering::SeqCst);
        if self.parked.swap(false, Ordering::SeqCst) {
            let _ = self.waker.wake();
        }
    }
}

/// Starts `threads` workers. Each takes batches from `units`, runs `workload` on each
/// unit if there is one, sends the replies back on `replies` and wakes the loop.
pub fn start(
    threads: usize,
    workload: Option<Workload>,
    units: Receiver<Batch>,
    replies: Sender<Batch>,
    wake: Arc<LoopWake>,
) -> std::io::Result<()> {
    for i in 0..threads {
        let (units, replies, wake) = (units.clone(), replies.clone(), Arc::clone(&wake));
        std::thread::Builder::new()
            .name(format!("worker-{i}"))
            .stack_size(STACK_SIZE)
            .spawn(move || {
                let send = |batch: Batch| {
                    let sent = replies.send(batch).is_ok();
                    wake.reply_sent();
                    sent
                };
                for batch in units {
                    let sent = match workload {
                        None => send(batch),
                        Some(w) => batch.into_iter().all(|unit| {
                            w.run_blocking(std::thread::sleep);
                            send(vec![unit])
                        }),
                    };
                    if !sent {
                        return; // the loop has gone: the process is ending
                    }
                }
            })?;
    }
    Ok(())
}
