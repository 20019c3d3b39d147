//! What every bare-metal binary here and in `firmware/sizes` shares (included by path, so each
//! binary keeps its own crate): the panic handler and the loop a binary ends in.

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    idle()
}

/// Spins forever: there is no runtime to return to.
pub fn idle() -> ! {
    loop {
        core::hint::spin_loop();
    }
}
