//! Runs a program as on a Linux kernel without Landlock: a seccomp filter
//! makes `landlock_create_ruleset`, `landlock_add_rule` and
//! `landlock_restrict_self` fail with `ENOSYS` (what such a kernel
//! answers) and allows everything else; filters are inherited across
//! `execve`, by the program and the helpers it starts.
//!
//! usage: no-landlock PROGRAM [ARGS...]

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;

fn main() {
    let args: Vec<CString> = std::env::args_os()
        .skip(1)
        .map(|a| CString::new(a.as_bytes()).expect("argument with NUL"))
        .collect();
    if args.is_empty() {
        eprintln!("usage: no-landlock PROGRAM [ARGS...]");
        std::process::exit(2);
    }
    let nr = |n: libc::c_long| n as u32;
    let errno = libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32;
    let stmt = |code: u32, k: u32| libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    };
    let jeq = |k: u32, jt: u8| libc::sock_filter {
        code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
        jt,
        jf: 0,
        k,
    };
    // Load the call number; each landlock call jumps to the ENOSYS return.
    let filter = [
        stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 0),
        jeq(nr(libc::SYS_landlock_create_ruleset), 3),
        jeq(nr(libc::SYS_landlock_add_rule), 2),
        jeq(nr(libc::SYS_landlock_restrict_self), 1),
        stmt(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_ALLOW),
        stmt(libc::BPF_RET | libc::BPF_K, errno),
    ];
    let prog = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: the kernel copies the filter program, which lives across the
    // call; as root (in the test's namespaces) no_new_privs is not needed.
    let r = unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER,
            &prog as *const libc::sock_fprog,
        )
    };
    if r != 0 {
        eprintln!("no-landlock: seccomp: {}", std::io::Error::last_os_error());
        std::process::exit(1);
    }
    let e = nix::unistd::execv(&args[0], &args).unwrap_err();
    eprintln!("no-landlock: {}: {e}", args[0].to_string_lossy());
    std::process::exit(127);
}
