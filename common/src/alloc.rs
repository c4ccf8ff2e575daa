//! Counting the server's heap allocations, for tests: `framed_does_not_allocate_per_frame`
//! asks whether a model allocates per frame, which RSS alone cannot show (glibc serves a
//! large buffer with mmap and gives it back with munmap, so a buffer allocated and freed
//! per frame leaves RSS flat).
//!
//! Every server binary installs [`Counting`] as its global allocator
//! ([`count_allocations!`]). It is the system allocator plus one relaxed load of a flag
//! that is never written in a normal run (a branch predicted every time): nothing is
//! counted unless the environment variable [`ENV`] is set when the server starts. Then
//! every allocation (and reallocation) is counted, and those of at least [`LARGE`] bytes
//! apart, and `--stats-file` reports both (`allocations`, `large_allocations`).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Set (to anything) in a server's environment, it counts its allocations.
pub const ENV: &str = "ECHOLAB_COUNT_ALLOCS";

/// Allocations of at least this many bytes are also counted as large (frame buffers).
pub const LARGE: usize = 1 << 20;

static ON: AtomicBool = AtomicBool::new(false);
static ALL: AtomicU64 = AtomicU64::new(0);
static LARGE_ONES: AtomicU64 = AtomicU64::new(0);

/// The system allocator, counting when [`ENV`] was set at start-up.
pub struct Counting;

#[cold]
fn count(size: usize) {
    ALL.fetch_add(1, Ordering::Relaxed);
    if size >= LARGE {
        LARGE_ONES.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: every call is passed on to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if ON.load(Ordering::Relaxed) {
            count(layout.size());
        }
        // SAFETY: the caller's contract is GlobalAlloc's, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if ON.load(Ordering::Relaxed) {
            count(layout.size());
        }
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if ON.load(Ordering::Relaxed) {
            count(new_size);
        }
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Installs [`Counting`] as the binary's global allocator (one line in each server's
/// main.rs; loadgen and the tests keep the system allocator).
#[macro_export]
macro_rules! count_allocations {
    () => {
        #[global_allocator]
        static ALLOCATOR: $crate::alloc::Counting = $crate::alloc::Counting;
    };
}

/// Starts counting if [`ENV`] is set (called once at start-up by [`crate::run`]).
pub fn enable_from_env() {
    if std::env::var_os(ENV).is_some() {
        ON.store(true, Ordering::Relaxed);
    }
}

/// Allocations and large allocations so far, or `None` when not counting.
pub fn counts() -> Option<(u64, u64)> {
    ON.load(Ordering::Relaxed).then(|| {
        (
            ALL.load(Ordering::Relaxed),
            LARGE_ONES.load(Ordering::Relaxed),
        )
    })
}
