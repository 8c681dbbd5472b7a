//! Giving freed memory back to the system.
//!
//! ypldapd builds a new snapshot of tens of megabytes every interval and
//! frees the old one. glibc's malloc raises its mmap threshold each time a
//! large mapped block is freed, so after the first swap the big buffers
//! come from the heap, and a freed heap stays resident: the daemon would
//! settle at several times its working size. A fixed threshold keeps every
//! large buffer in a mapping of its own (unmapped when freed), and a trim
//! after each swap hands back whatever the heap holds free. Other C
//! libraries (FreeBSD's jemalloc, OpenBSD's malloc) return memory by
//! themselves; there both calls do nothing.

/// Blocks at least this large get a mapping of their own.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 128 * 1024;

/// Sets the allocator up as above. Call once, early.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt takes two integers and only changes malloc's tuning;
    // the value is glibc's own default, within its documented range.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    }
}

/// Returns free heap memory to the system (`malloc_trim(0)`; it releases
/// whole free pages with `madvise`, which every sandbox here allows).
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes a size and touches only malloc's own state.
    unsafe {
        libc::malloc_trim(0);
    }
}
