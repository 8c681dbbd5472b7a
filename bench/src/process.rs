//! What the benchmark reads about processes from `/proc`, and what it does
//! to them: CPU time, memory, preemption, CPU pinning, `perf record`.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tests::status_field;

/// User plus system CPU time of `pid`, in seconds.
pub fn cpu_secs(pid: u32) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = s.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the command: state is field 3, utime 14 and stime 15.
    let t = |i: usize| {
        f.get(i - 3)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    (t(14) + t(15)) as f64 / hz
}

/// CPU seconds of the waited-for descendants of this process.
pub fn children_cpu_secs() -> f64 {
    // SAFETY: all-zero is a valid rusage; getrusage fills it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, exclusively borrowed rusage.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// How often `pid` was descheduled while runnable (preempted by other
/// work on the machine): `nonvoluntary_ctxt_switches`.
pub fn preempted(pid: u32) -> u64 {
    status_field(pid, "nonvoluntary_ctxt_switches")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// A memory figure of `pid` in KiB (`VmRSS`, `VmHWM`).
pub fn kib(pid: u32, field: &str) -> u64 {
    status_field(pid, field)
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Resets `pid`'s VmHWM to its current RSS (proc(5), clear_refs).
pub fn reset_peak(pid: u32) {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").expect("clear_refs");
}

/// The load average (1, 5, 15 minutes).
pub fn load_avg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// The number of CPUs this process may use.
pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// Pins every thread of `pid` (0: the calling thread only) to one CPU, or
/// lets them run on all.
pub fn set_cpu(pid: u32, cpu: Option<usize>) {
    let mut set = nix::sched::CpuSet::new();
    for c in 0..cpus() {
        if cpu.is_none_or(|one| one == c) {
            let _ = set.set(c);
        }
    }
    let threads: Vec<i32> = if pid == 0 {
        vec![0]
    } else {
        std::fs::read_dir(format!("/proc/{pid}/task"))
            .map(|d| {
                d.flatten()
                    .filter_map(|e| e.file_name().to_str()?.parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    };
    for t in threads {
        let _ = nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(t), &set);
    }
}

/// A `perf record -e cpu-clock` running until [`Perf::stop`].
pub struct Perf {
    child: Child,
    file: String,
}

impl Perf {
    /// Records `pid` into `file` (a software event: this machine's VM has
    /// no hardware counters); `None` if perf cannot start.
    pub fn record(pid: u32, file: &str) -> Option<Perf> {
        Command::new("perf")
            .args(["record", "-q", "-e", "cpu-clock", "-F", "2000", "-p"])
            .arg(pid.to_string())
            .args(["-o", file])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()
            .map(|child| {
                std::thread::sleep(Duration::from_millis(300));
                Perf {
                    child,
                    file: file.to_owned(),
                }
            })
    }

    /// Stops the recording and says where the profile is.
    pub fn stop(mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGINT,
        );
        let _ = self.child.wait();
        println!("  profile: perf report -i {}", self.file);
    }
}
