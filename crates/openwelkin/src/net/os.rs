//! Small calls into the C library, each behind a safe function.

/// Raises the soft limit on open files towards `wanted` (never above the hard limit), so
/// that `serve --max-connections` can be reached; answers the soft limit now in force, or
/// `None` where it cannot be read.
#[cfg(unix)]
#[allow(clippy::unnecessary_cast)] // rlim_t is u64 on Linux, not on every Unix
pub fn raise_file_limit(wanted: u64) -> Option<u64> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into the struct we own and reads nothing else.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return None;
    }
    let current = limit.rlim_cur as u64;
    if current >= wanted {
        return Some(current);
    }
    let raised = libc::rlimit { rlim_cur: (wanted as libc::rlim_t).min(limit.rlim_max), rlim_max: limit.rlim_max };
    // SAFETY: setrlimit only reads the struct; a refusal leaves the limit as it was.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
        Some(raised.rlim_cur as u64)
    } else {
        Some(current)
    }
}

#[cfg(not(unix))]
pub fn raise_file_limit(_wanted: u64) -> Option<u64> {
    None
}

/// Keeps glibc's heap from holding on to large blocks it no longer uses. By default glibc
/// raises its mmap threshold to the size of the largest mapped block freed (up to 32 MiB)
/// and its trim threshold to twice that: after the 19 MiB of one argon2 hash (each token
/// exchange verifies a client secret), blocks that large come from a heap and stay there,
/// and free memory below 38 MiB is never trimmed. A server after a minute of load held
/// 88 MB instead of 49 MB. Fixed thresholds turn that adjustment off: blocks of 256 KiB or
/// more are mapped and unmapped on their own, and a heap gives back a free top over 1 MiB.
/// Call it before the runtime starts its threads. Elsewhere (musl, other systems) this
/// does nothing.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; it takes no pointer.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1024 * 1024);
    }
}

/// Gives the heap's free memory back to the system. glibc's allocator keeps freed memory
/// in its arenas (one per thread that allocated, up to 8 per core) and returns it only
/// from the top of the main heap on its own; after a burst of connections closes, most of
/// what they used would stay in the process. `malloc_trim` releases the free pages of
/// every arena. Elsewhere (musl, other systems) this does nothing.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointer and may be called at any time from any thread;
    // it only returns free pages to the system.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_file_limit_is_read_and_never_lowered() {
        let now = super::raise_file_limit(0);
        #[cfg(unix)]
        assert!(now.is_some_and(|n| n > 0));
        assert_eq!(super::raise_file_limit(1), now);
        super::tune_allocator();
        super::release_free_memory();
    }
}
