//! `--max-conns N`: serve at most N connections at once. A server takes a pass *before*
//! it calls accept(), so connections over the cap wait in the kernel's listen backlog,
//! not in the server. The pass is given back when the connection ends.
//!
//! [`Gate`] is for models whose accept loop may block its OS thread (the thread model);
//! async models use [`AsyncGate`], which works with any executor (the accept loop of
//! `crate::accept`). Models with their own primitive (tokio's semaphore, may's, the epoll
//! loop's connection count) use that.

use std::sync::{Arc, Condvar, Mutex};

/// An async counting semaphore (async-lock's): `gate.acquire_arc().await` is a pass.
pub type AsyncGate = async_lock::Semaphore;

/// One connection's place under an [`AsyncGate`] shared through an `Arc`; dropping it
/// frees the place.
pub type AsyncPass = async_lock::SemaphoreGuardArc;

/// A blocking counting semaphore.
#[derive(Debug)]
pub struct Gate {
    free: Mutex<usize>,
    freed: Condvar,
}

/// One connection's place under the cap; dropping it frees the place.
#[derive(Debug)]
#[must_use = "the place is freed as soon as the pass is dropped"]
pub struct Pass(Arc<Gate>);

impl Gate {
    /// A gate with `max` places.
    pub fn new(max: usize) -> Arc<Gate> {
        Arc::new(Gate {
            free: Mutex::new(max),
            freed: Condvar::new(),
        })
    }

    /// Waits for a free place and takes it.
    pub fn enter(self: &Arc<Self>) -> Pass {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        while *free == 0 {
            free = self.freed.wait(free).unwrap_or_else(|e| e.into_inner());
        }
        *free -= 1;
        Pass(Arc::clone(self))
    }
}

impl Drop for Pass {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.0.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn at_most_max_passes_are_out_at_once() {
        let gate = Gate::new(2);
        let inside = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let workers: Vec<_> = (0..6)
            .map(|_| {
                let (gate, inside, peak) = (gate.clone(), inside.clone(), peak.clone());
                std::thread::spawn(move || {
                    let _pass = gate.enter();
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(20));
                    inside.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        assert_eq!(peak.load(Ordering::SeqCst), 2);
    }
}
