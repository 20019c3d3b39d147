//! What both probes share: running their table from one of the pool's threads or the main one.

/// Runs `table` from one of rayon's threads where the first argument is `inside` (as an
/// engine's tasks call, where a join costs no wake-up of the caller), else from the main
/// thread, whose every call also wakes it back up; prints which.
pub fn from_pool_or_main(table: impl FnOnce() + Send) {
    if std::env::args().nth(1).as_deref() == Some("inside") {
        println!("called from inside the pool");
        rayon::scope(|_| table());
    } else {
        println!("called from outside the pool");
        table();
    }
}
