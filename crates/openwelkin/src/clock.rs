//! The one source of "now". Everything that reads time (token expiry, audit, record
//! timestamps) asks the clock, so the emulator can freeze, set or advance it.

use chrono::{DateTime, TimeZone, Utc};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// A wall clock with an adjustable offset, which can also be frozen at one instant.
#[derive(Clone, Default)]
pub struct Clock {
    /// Milliseconds added to the system time.
    offset_ms: Arc<AtomicI64>,
    /// When non-zero, the epoch milliseconds the clock is frozen at.
    frozen_ms: Arc<AtomicI64>,
}

impl Clock {
    pub fn system() -> Self {
        Self::default()
    }

    pub fn now(&self) -> DateTime<Utc> {
        let frozen = self.frozen_ms.load(Ordering::Relaxed);
        if frozen != 0 {
            return Utc.timestamp_millis_opt(frozen).single().unwrap_or_default();
        }
        Utc::now() + chrono::Duration::milliseconds(self.offset_ms.load(Ordering::Relaxed))
    }

    /// Milliseconds since the Unix epoch, the unit every table stores.
    pub fn now_ms(&self) -> i64 {
        self.now().timestamp_millis()
    }

    /// Moves the clock forward (or back, with a negative value), frozen or not.
    pub fn advance(&self, by: chrono::Duration) {
        let ms = by.num_milliseconds();
        if self.frozen_ms.load(Ordering::Relaxed) != 0 {
            self.frozen_ms.fetch_add(ms, Ordering::Relaxed);
        } else {
            self.offset_ms.fetch_add(ms, Ordering::Relaxed);
        }
    }

    /// Stops the clock at its current time.
    pub fn freeze(&self) {
        self.frozen_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    /// Lets a frozen clock run again from where it stands.
    pub fn unfreeze(&self) {
        let at = self.now_ms();
        self.frozen_ms.store(0, Ordering::Relaxed);
        self.offset_ms.store(at - Utc::now().timestamp_millis(), Ordering::Relaxed);
    }

    /// Sets the time; a frozen clock stays frozen there.
    pub fn set(&self, to: DateTime<Utc>) {
        if self.is_frozen() {
            self.frozen_ms.store(to.timestamp_millis(), Ordering::Relaxed);
        } else {
            self.offset_ms.store(to.timestamp_millis() - Utc::now().timestamp_millis(), Ordering::Relaxed);
        }
    }

    pub fn is_frozen(&self) -> bool {
        self.frozen_ms.load(Ordering::Relaxed) != 0
    }

    /// Back to the system time.
    pub fn reset(&self) {
        self.frozen_ms.store(0, Ordering::Relaxed);
        self.offset_ms.store(0, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frozen_clocks_stand_still_until_moved() {
        let c = Clock::system();
        c.freeze();
        let t = c.now_ms();
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert_eq!(c.now_ms(), t);
        c.advance(chrono::Duration::minutes(61));
        assert_eq!(c.now_ms(), t + 61 * 60_000);
        c.set(Utc.timestamp_millis_opt(1_000_000).unwrap());
        assert_eq!(c.now_ms(), 1_000_000);
        c.unfreeze();
        assert!((c.now_ms() - 1_000_000).abs() < 1000, "runs on from where it stood");
        c.reset();
        assert!((c.now_ms() - Utc::now().timestamp_millis()).abs() < 1000);
    }
}
