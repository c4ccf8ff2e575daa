//! `--idle-timeout` for the hand-written loops (epoll, uring), which keep their
//! connections in a slab and cannot give each one a timer of its own: one check per
//! connection in a heap ordered by due time.
//!
//! Input does not touch the heap: the loop stamps the connection with the time it last
//! saw input, and a check that falls due and finds a newer stamp is put back for the new
//! due time. A busy connection thus costs one heap entry and no heap work per message.
//! A connection's check outlives it in the heap; the connection's id (which a later
//! connection in the same slab slot does not share) tells a stale check apart.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

/// One loop's idle checks: (due time, slab key, connection id), earliest first.
#[derive(Debug)]
pub struct IdleChecks {
    /// `--idle-timeout`; `None`: no connection is ever closed for idling.
    after: Option<Duration>,
    heap: BinaryHeap<Reverse<(Instant, usize, u64)>>,
}

impl IdleChecks {
    /// Checks for connections idle `after` (none at all without it).
    pub fn new(after: Option<Duration>) -> IdleChecks {
        IdleChecks {
            after,
            heap: BinaryHeap::new(),
        }
    }

    /// The idle limit, `--idle-timeout`.
    pub fn after(&self) -> Option<Duration> {
        self.after
    }

    /// Starts watching a connection that was accepted (or last had input) at `now`.
    pub fn watch(&mut self, key: usize, id: u64, now: Instant) {
        if let Some(after) = self.after {
            self.heap.push(Reverse((now + after, key, id)));
        }
    }

    /// When the next check falls due: the loop's wait ends then at the latest.
    pub fn next_due(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((due, _, _))| *due)
    }

    /// The connections past their idle limit at `now`, in the order their checks fell
    /// due; the loop closes them. `last_input(key, id)` gives the time the connection last
    /// had input, or `None` if the slot no longer holds that connection (a stale check,
    /// dropped). A connection that is not waiting for input (it owes its client bytes, or
    /// is in a backend wait) is not idle: the loop answers `now` for it, and idle time
    /// starts when waiting does. A check that finds input since is put back for its new
    /// due time.
    pub fn due(
        &mut self,
        now: Instant,
        mut last_input: impl FnMut(usize, u64) -> Option<Instant>,
    ) -> Vec<usize> {
        let mut idle = Vec::new();
        let Some(after) = self.after else {
            return idle;
        };
        while let Some(&Reverse((due, key, id))) = self.heap.peek() {
            if due > now {
                break;
            }
            self.heap.pop();
            let Some(last) = last_input(key, id) else {
                continue; // closed already
            };
            let due = last + after;
            if due > now {
                self.heap.push(Reverse((due, key, id)));
            } else {
                idle.push(key);
            }
        }
        idle
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn without_a_limit_nothing_is_watched_or_due() {
        let t0 = Instant::now();
        let mut checks = IdleChecks::new(None);
        checks.watch(1, 1, t0);
        assert_eq!(checks.next_due(), None);
        assert_eq!(
            checks.due(t0 + 100 * SECOND, |_, _| Some(t0)),
            Vec::<usize>::new()
        );
    }

    #[test]
    fn connections_idle_past_the_limit_are_due_in_order() {
        let t0 = Instant::now();
        let mut checks = IdleChecks::new(Some(SECOND));
        checks.watch(7, 1, t0 + SECOND);
        checks.watch(3, 2, t0);
        checks.watch(5, 3, t0 + 5 * SECOND);
        assert_eq!(checks.next_due(), Some(t0 + SECOND));
        // Not yet due: nothing is asked about, nothing closes.
        let due = checks.due(t0 + SECOND / 2, |_, _| panic!("no check is due"));
        assert!(due.is_empty());
        let idle = checks.due(t0 + 2 * SECOND, |key, _| {
            Some(t0 + SECOND * key as u32 / 10)
        });
        assert_eq!(idle, vec![3, 7]);
        assert_eq!(checks.next_due(), Some(t0 + 6 * SECOND));
    }

    #[test]
    fn a_check_that_finds_newer_input_waits_for_the_new_due_time() {
        let t0 = Instant::now();
        let mut checks = IdleChecks::new(Some(SECOND));
        checks.watch(1, 1, t0);
        let input = t0 + SECOND / 2;
        assert!(checks.due(t0 + SECOND, |_, _| Some(input)).is_empty());
        // Put back for the input's due time, and the timeout follows it.
        assert_eq!(checks.next_due(), Some(input + SECOND));
        assert_eq!(checks.due(input + SECOND, |_, _| Some(input)), vec![1]);
        assert_eq!(checks.next_due(), None);
    }

    #[test]
    fn stale_checks_of_closed_connections_are_skipped() {
        let t0 = Instant::now();
        let mut checks = IdleChecks::new(Some(SECOND));
        checks.watch(4, 1, t0);
        // Connection 1 closed; its slot 4 now holds connection 2, accepted later.
        checks.watch(4, 2, t0 + SECOND / 2);
        let live = |key: usize, id: u64| (key, id) == (4, 2);
        let idle = checks.due(t0 + SECOND, |key, id| {
            live(key, id).then_some(t0 + SECOND / 2)
        });
        assert!(idle.is_empty(), "the stale check closes nothing");
        assert_eq!(checks.next_due(), Some(t0 + 3 * SECOND / 2));
        let idle = checks.due(t0 + 2 * SECOND, |key, id| {
            live(key, id).then_some(t0 + SECOND / 2)
        });
        assert_eq!(idle, vec![4]);
    }
}
