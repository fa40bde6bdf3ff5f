//! Catching panics of third-party parsers without printing them.
//!
//! A parser that panics on a hostile document must cost that document, not the process, and
//! the panic is reported through the caller's own error; the default hook would print it as
//! well ("thread 'main' panicked at ..."). No types cross this boundary.

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Once;

/// Runs `f`, turning a panic into `None` without letting the process's panic hook print it.
pub(crate) fn catch_quietly<T>(f: impl FnOnce() -> T) -> Option<T> {
    install_quiet_panic_hook();
    // Restored, not cleared: a call inside another keeps the outer one quiet.
    let outer = QUIET_PANICS.replace(true);
    let result = catch_unwind(AssertUnwindSafe(f));
    QUIET_PANICS.set(outer);
    result.ok()
}

thread_local! {
    /// Set while this thread runs inside [`catch_quietly`].
    static QUIET_PANICS: Cell<bool> = const { Cell::new(false) };
}

/// Wraps the process's panic hook (once) so that it stays silent for panics raised while
/// [`QUIET_PANICS`] is set on the panicking thread, and behaves as before for every other panic.
fn install_quiet_panic_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET_PANICS.get() {
                previous(info);
            }
        }));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_none_and_a_value_passes_through() {
        assert_eq!(catch_quietly(|| -> u8 { panic!("boom") }), None);
        assert_eq!(catch_quietly(|| 7), Some(7));
        // The flag is cleared after a panic: later panics on this thread are printed again.
        assert!(!QUIET_PANICS.get());
    }

    #[test]
    fn a_call_inside_another_leaves_the_outer_one_quiet() {
        let inner_then_flag = catch_quietly(|| {
            assert_eq!(catch_quietly(|| -> u8 { panic!("inner") }), None);
            QUIET_PANICS.get()
        });
        assert_eq!(inner_then_flag, Some(true));
        assert!(!QUIET_PANICS.get());
    }
}
