//! Readings from /proc: a process's RSS and CPU time, and each core's busy time.

/// Clock ticks per second of /proc's CPU times (USER_HZ; 100 on every Linux we run).
const TICKS: f64 = 100.0;

/// Resident set size of the server's processes in KiB (`VmRSS`), or the sum of their
/// peaks (`VmHWM`).
pub fn rss_kib(pids: &[u32], key: &str) -> u64 {
    pids.iter().map(|&pid| process_rss_kib(pid, key)).sum()
}

fn process_rss_kib(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// User + system CPU seconds used so far by `pid` (`self` for this process).
pub fn cpu_secs(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start with the state (3rd).
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / TICKS
}

/// Busy and total ticks of each core (`cpu0`, `cpu1`, …); busy excludes idle and iowait,
/// so it includes softirq time spent on loopback traffic that no process is charged for.
fn cores() -> Vec<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    stat.lines()
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .map(|l| {
            let v: Vec<f64> = l
                .split_whitespace()
                .skip(1)
                .filter_map(|x| x.parse().ok())
                .collect();
            let total: f64 = v.iter().take(8).sum();
            let idle = v.get(3).copied().unwrap_or(0.0) + v.get(4).copied().unwrap_or(0.0);
            (total - idle, total)
        })
        .collect()
}

/// CPU readings at one moment.
pub struct Snapshot {
    server: f64,
    client: f64,
    cores: Vec<(f64, f64)>,
}

/// CPU used between two snapshots.
#[derive(Debug, Clone, Default)]
pub struct CpuUse {
    pub server_secs: f64,
    pub client_secs: f64,
    /// Per core, percent busy.
    pub cores_busy_pct: Vec<f64>,
}

impl Snapshot {
    /// `server_pids`: the server's processes, whose CPU times are added.
    pub fn take(server_pids: &[u32]) -> Self {
        Self {
            server: server_pids
                .iter()
                .map(|pid| cpu_secs(&pid.to_string()))
                .sum(),
            client: cpu_secs("self"),
            cores: cores(),
        }
    }

    pub fn since(&self, server_pids: &[u32]) -> CpuUse {
        let now = Self::take(server_pids);
        CpuUse {
            server_secs: now.server - self.server,
            client_secs: now.client - self.client,
            cores_busy_pct: now
                .cores
                .iter()
                .zip(&self.cores)
                .map(|((b1, t1), (b0, t0))| {
                    if t1 > t0 {
                        100.0 * (b1 - b0) / (t1 - t0)
                    } else {
                        0.0
                    }
                })
                .collect(),
        }
    }
}
