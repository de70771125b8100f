//! Memory handed back to the system. The server's allocator is mimalloc (`main.rs`): under
//! a read load glibc's malloc and free took 12 % of the server's CPU.
//!
//! mimalloc keeps what a thread frees for a while (its purge delay) and gives it back only
//! when that thread allocates again, so work done once at start-up (the dummy password
//! hash: argon2's 19 MiB) would stay resident while the server idles.
//!
//! By default mimalloc also commits the memory it reserves for its arenas at once, and the
//! server then idled at 49-58 MB instead of 37 MB (quick build). The option must be set
//! before the first allocation, which happens before `main`: `.cargo/config.toml` builds
//! mimalloc with that default changed (`MI_DEFAULT_ARENA_EAGER_COMMIT=0`).

/// Gives the memory the calling thread has freed back to the system now. Where mimalloc
/// is not the global allocator (the library's tests) its heaps are empty: nothing happens.
pub fn release_unused() {
    // SAFETY: mi_collect takes no arguments that point anywhere; it may run on any thread
    // at any time.
    unsafe { libmimalloc_sys::mi_collect(true) }
}
