//! The runtime's exit status, in Docker's convention, so scripts can tell a failing
//! command from a failing runtime.

use nix::sys::wait::WaitStatus;

/// The runtime itself failed (bad flag, missing rootfs, a kernel call refused).
pub const RUNTIME_ERROR: i32 = 125;
/// The command exists in the rootfs but cannot be executed.
pub const CANNOT_EXECUTE: i32 = 126;
/// The command is not found in the rootfs.
pub const NOT_FOUND: i32 = 127;

// ANCHOR: exit_code
/// The exit status the runtime reports for a container whose process ended with
/// `status`, as waitpid(2) reported it.
pub fn exit_code(status: WaitStatus) -> i32 {
    // exercise(exit_code): a process that exited reports its own exit code; one
    // killed by signal N reports 128 + N (as shells and Docker do: SIGKILL is
    // 9, so 137). Anything else is a runtime error (RUNTIME_ERROR).
    // hint: `match status` on `nix::sys::wait::WaitStatus`: the variants you need are `Exited(pid,
    //       code)` and `Signaled(pid, signal, core_dumped)`.
    // hint: A `Signal` converts to its number with `signal as i32` (SIGKILL is 9): return `128 +
    //       signal as i32` for `Signaled`, the code itself for `Exited`.
    // hint: Every other variant (`Stopped`, `Continued`, ...) is not an end: return
    //       `RUNTIME_ERROR`.
    match status {
        WaitStatus::Exited(_, code) => code,
        WaitStatus::Signaled(_, signal, _) => 128 + signal as i32,
        _ => RUNTIME_ERROR,
    }
    // end exercise
}
// ANCHOR_END: exit_code
