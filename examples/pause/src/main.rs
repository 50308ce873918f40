//! The pause process of a pod sandbox.
//!
//! It holds the pod's shared namespaces open for as long as the sandbox lives
//! and does nothing else. It runs as PID 1 of the pod's PID namespace (when
//! the pod shares one), and the kernel does not deliver a signal to a
//! namespace's init unless that init installed a handler for it: SIGTERM from
//! StopPodSandbox would be ignored and the runtime would have to wait out its
//! timeout and SIGKILL. So SIGTERM and SIGINT get handlers that exit 0.
//! As init it also inherits orphaned processes, which it must reap so they do
//! not stay zombies.

use std::process::ExitCode;

/// Exits at once with status 0. Only async-signal-safe calls are allowed in
/// a signal handler, and `_exit` is one (unlike `std::process::exit`, which
/// runs atexit handlers and flushes stdio).
extern "C" fn exit_zero(_signal: libc::c_int) {
    // SAFETY: `_exit` is async-signal-safe and takes no pointers.
    unsafe { libc::_exit(0) }
}

/// Reaps every child that has ended. `waitpid` is async-signal-safe; one
/// SIGCHLD may stand for several children (signals do not queue), hence the
/// loop until nothing is left to collect.
extern "C" fn reap_children(_signal: libc::c_int) {
    loop {
        // SAFETY: a null status pointer is allowed and asks for no status.
        let pid = unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) };
        if pid <= 0 {
            break;
        }
    }
}

/// Installs `handler` for `signal`, restarting interrupted system calls.
fn install(signal: libc::c_int, handler: extern "C" fn(libc::c_int)) -> std::io::Result<()> {
    // SAFETY: `sigaction` is plain data; an all-zero value is a valid start
    // (empty mask, no flags) before the fields below are set.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = handler as libc::sighandler_t;
    action.sa_flags = libc::SA_RESTART;
    // SAFETY: `action` is initialised, and a null old-action pointer is allowed.
    let rc = unsafe {
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(signal, &action, std::ptr::null_mut())
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

fn main() -> ExitCode {
    let handlers: [(libc::c_int, &str, extern "C" fn(libc::c_int)); 3] = [
        (libc::SIGTERM, "SIGTERM", exit_zero),
        (libc::SIGINT, "SIGINT", exit_zero),
        (libc::SIGCHLD, "SIGCHLD", reap_children),
    ];
    for (signal, name, handler) in handlers {
        if let Err(error) = install(signal, handler) {
            eprintln!("pause: cannot handle {name}: {error}");
            return ExitCode::from(1);
        }
    }
    loop {
        // SAFETY: `pause` takes no arguments; it returns after a handler ran.
        unsafe { libc::pause() };
    }
}
