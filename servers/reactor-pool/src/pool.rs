//! The pool: `--threads` workers that take units of work from the loop, run the
//! request's workload (`common::work`, with a blocking sleep for the backend wait: a
//! worker is a plain thread), and hand the unit back as its reply, waking the loop.
//! Nothing here touches a socket.

use std::sync::Arc;
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

/// Starts `threads` workers. Each takes units from `units`, runs `workload` on it if
/// there is one, sends it back on `replies` and wakes the loop.
pub fn start(
    threads: usize,
    workload: Option<Workload>,
    units: Receiver<Unit>,
    replies: Sender<Unit>,
    waker: Arc<Waker>,
) -> std::io::Result<()> {
    for i in 0..threads {
        let (units, replies, waker) = (units.clone(), replies.clone(), Arc::clone(&waker));
        std::thread::Builder::new()
            .name(format!("worker-{i}"))
            .stack_size(STACK_SIZE)
            .spawn(move || {
                for unit in units {
                    if let Some(w) = workload {
                        w.run_blocking(std::thread::sleep);
                    }
                    if replies.send(unit).is_err() {
                        return; // the loop has gone: the process is ending
                    }
                    // A failed wake-up leaves the reply for the loop's next turn.
                    let _ = waker.wake();
                }
            })?;
    }
    Ok(())
}
