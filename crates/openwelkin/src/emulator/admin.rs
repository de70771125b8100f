//! What a server started with `--emulator` holds for the `/_emulator/` controls: the
//! admin token's digest and the fault rules. Part of the application state, so it lives
//! here rather than with the HTTP handlers that read it.

use sha2::{Digest, Sha256};

/// The emulator admin token, kept only as its SHA-256 digest so the process never holds
/// or logs it in plain text after start.
#[derive(Clone)]
pub struct EmulatorAuth {
    digest: [u8; 32],
}

impl EmulatorAuth {
    pub fn new(token: &str) -> Self {
        EmulatorAuth { digest: Sha256::digest(token.as_bytes()).into() }
    }

    /// Whether `given` (the bearer token a request showed) is the admin token.
    pub fn accepts(&self, given: &str) -> bool {
        let given: [u8; 32] = Sha256::digest(given.as_bytes()).into();
        // Comparing digests keeps the comparison time independent of the secret's content.
        given == self.digest
    }
}

/// What a server started with `--emulator` holds for the controls.
pub struct Emulator {
    pub auth: EmulatorAuth,
    pub faults: super::faults::Faults,
}

impl Emulator {
    pub fn new(token: &str) -> Self {
        Emulator { auth: EmulatorAuth::new(token), faults: Default::default() }
    }
}
