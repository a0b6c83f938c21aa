//! Faults only tests can cause (feature `fault-injection`, enabled by this crate's own
//! dev-dependency on itself, so never compiled into the service's binary): they let a test
//! show that a worker task failing in a way no input can provoke still releases its jobs.

use std::sync::Mutex;

/// URLs whose next fetch panics, one panic per entry.
static PANIC_ON_FETCH: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// The next fetch of `url`, by any worker of this process, panics (after taking its API
/// limit permits, before sending the request).
pub fn panic_on_next_fetch(url: &str) {
    PANIC_ON_FETCH
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(url.to_owned());
}

/// Called by the worker before each fetch.
pub(crate) fn before_fetch(url: &str) {
    let armed = {
        let mut armed = PANIC_ON_FETCH
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        armed
            .iter()
            .position(|wanted| wanted == url)
            .map(|index| armed.swap_remove(index))
    };
    if let Some(url) = armed {
        panic!("fault injected by a test: the fetch of {url} panics");
    }
}
