//! One-time values used in this isolate (device-binding challenges,
//! logout tokens' `jti`), each remembered until it expires, so that a
//! second use is refused.
//!
//! Best effort, as the throttle is: another isolate does not know them.
//! What each use costs an attacker who replays one there is said where it
//! is used (DESIGN §11, §12).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

/// Values remembered at once.
pub const MAX_SPENT: usize = 10_000;

/// Why a value could not be spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpendError {
    /// Used before.
    Reused,
    /// The memory is full of values that have not expired.
    Busy,
}

/// The values used in this isolate, with when each stops mattering.
#[derive(Debug, Default)]
pub struct Spent {
    values: Mutex<HashMap<String, u64>>,
}

impl Spent {
    /// Marks `value` used until `expires`; an error if it was, or if no
    /// room is left.
    pub fn spend(&self, value: &str, expires: u64, now: u64) -> Result<(), SpendError> {
        let mut spent = self.lock();
        if spent.contains_key(value) {
            return Err(SpendError::Reused);
        }
        if spent.len() >= MAX_SPENT {
            spent.retain(|_, until| *until > now);
            if spent.len() >= MAX_SPENT {
                return Err(SpendError::Busy);
            }
        }
        spent.insert(value.to_owned(), expires);
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, u64>> {
        // A panic cannot leave the map half-updated: recover it.
        self.values.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000;

    #[test]
    fn a_value_is_spent_once() {
        let spent = Spent::default();
        assert_eq!(spent.spend("c", NOW + 60, NOW), Ok(()));
        assert_eq!(spent.spend("c", NOW + 60, NOW), Err(SpendError::Reused));
        assert_eq!(spent.spend("d", NOW + 60, NOW), Ok(()));
    }

    #[test]
    fn a_full_memory_forgets_expired_values_and_refuses_when_none_has() {
        let spent = Spent::default();
        for n in 0..MAX_SPENT {
            spent
                .spend(&n.to_string(), NOW + 1 + (n % 2) as u64 * 100, NOW)
                .unwrap();
        }
        assert_eq!(spent.spend("new", NOW + 160, NOW), Err(SpendError::Busy));
        // Half expire by NOW + 1: room again, and the live half still counts.
        assert_eq!(spent.spend("new", NOW + 160, NOW + 1), Ok(()));
        assert_eq!(
            spent.spend("1", NOW + 160, NOW + 1),
            Err(SpendError::Reused)
        );
    }
}
