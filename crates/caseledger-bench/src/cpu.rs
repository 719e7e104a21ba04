//! CPU accounting from `/proc`, to show where the time of a phase went: the server process, this
//! load generator, and the whole machine (the rest is mostly the database server).

/// Clock ticks per second of `/proc` CPU times (USER_HZ, 100 on every Linux we run on).
const TICKS_PER_SECOND: f64 = 100.0;

/// User plus system CPU seconds used so far by process `pid` (`self` for this process).
pub fn process_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces) start at field 3 (state).
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let user: f64 = fields.get(11)?.parse().ok()?;
    let system: f64 = fields.get(12)?.parse().ok()?;
    Some((user + system) / TICKS_PER_SECOND)
}

/// CPU seconds the whole machine spent busy (all cores; not idle, not waiting for IO).
pub fn machine_busy_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let values: Vec<f64> = line
        .split_whitespace()
        .filter_map(|value| value.parse().ok())
        .collect();
    let total: f64 = values.iter().take(8).sum();
    let idle = values.get(3)? + values.get(4)?;
    Some((total - idle) / TICKS_PER_SECOND)
}

/// CPU seconds used during one phase.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct CpuUse {
    /// By the measured process (the server, or the rebuild command).
    pub process_seconds: f64,
    /// By this load generator.
    pub load_generator_seconds: f64,
    /// By the whole machine.
    pub machine_seconds: f64,
}

/// A reading at the start of a phase.
pub struct CpuMeter {
    pid: String,
    process: f64,
    load_generator: f64,
    machine: f64,
}

impl CpuMeter {
    /// Starts measuring, with `pid` as the measured process.
    pub fn start(pid: u32) -> Self {
        let pid = pid.to_string();
        Self {
            process: process_seconds(&pid).unwrap_or(0.0),
            load_generator: process_seconds("self").unwrap_or(0.0),
            machine: machine_busy_seconds().unwrap_or(0.0),
            pid,
        }
    }

    /// CPU used since `start`.
    pub fn read(&self) -> CpuUse {
        CpuUse {
            process_seconds: process_seconds(&self.pid).unwrap_or(0.0) - self.process,
            load_generator_seconds: process_seconds("self").unwrap_or(0.0) - self.load_generator,
            machine_seconds: machine_busy_seconds().unwrap_or(0.0) - self.machine,
        }
    }
}
