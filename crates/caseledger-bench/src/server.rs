//! The processes under test: `caseledger` maintenance commands, and `caseledger serve` on a free
//! loopback port with its stderr in a log file (its address is read from the line "is serving on
//! http://ADDR"), its peak resident memory read from `/proc/<pid>/status`, and SIGTERM to stop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::cpu::{CpuMeter, CpuUse};

/// A fixed token secret for the run (throwaway databases on loopback only).
const JWT_SECRET: &str = "caseledger-bench-secret-not-for-production";

/// How to run the `caseledger` binary against one database.
#[derive(Clone)]
pub struct Caseledger {
    /// The binary.
    pub binary: PathBuf,
    /// The reference data directory.
    pub data_dir: PathBuf,
    /// The database URL.
    pub database_url: String,
}

impl Caseledger {
    fn command(&self) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .env("CASELEDGER_DATABASE_URL", &self.database_url)
            .env("CASELEDGER_DATA_DIR", &self.data_dir)
            .env("CASELEDGER_JWT_SECRET", JWT_SECRET);
        command
    }

    /// Runs a subcommand to completion and returns its standard output.
    pub fn run(&self, args: &[&str]) -> Result<String> {
        let output = self
            .command()
            .args(args)
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("running {} {}", self.binary.display(), args.join(" ")))?;
        if !output.status.success() {
            bail!(
                "caseledger {} failed ({}): {}",
                args.join(" "),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }

    /// Runs a subcommand to completion, sampling its CPU time until it exits; returns its
    /// standard output, the wall time and the CPU it used (the last sample, at most 20 ms before
    /// it exited: /proc forgets a process once it is reaped).
    /// A command still running after `limit` is killed; the output is then `None`.
    pub fn run_measured(
        &self,
        args: &[&str],
        limit: Duration,
    ) -> Result<(Option<String>, f64, CpuUse)> {
        let started = Instant::now();
        let stderr_path = self.data_dir.join("command-stderr.log");
        std::fs::create_dir_all(&self.data_dir)
            .with_context(|| format!("creating {}", self.data_dir.display()))?;
        let mut child = self
            .command()
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            // A file, not a pipe: nobody reads stderr while the command runs.
            .stderr(
                std::fs::File::create(&stderr_path)
                    .with_context(|| format!("creating {}", stderr_path.display()))?,
            )
            .spawn()
            .with_context(|| format!("running {} {}", self.binary.display(), args.join(" ")))?;
        let meter = CpuMeter::start(child.id());
        let mut used = CpuUse::default();
        while child
            .try_wait()
            .context("watching a caseledger command")?
            .is_none()
        {
            used = meter.read();
            if started.elapsed() > limit {
                child
                    .kill()
                    .context("stopping a command that ran too long")?;
                child.wait().context("waiting for a killed command")?;
                return Ok((None, started.elapsed().as_secs_f64(), used));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let elapsed = started.elapsed().as_secs_f64();
        let output = child.wait_with_output().context("collecting the output")?;
        if !output.status.success() {
            bail!(
                "caseledger {} failed ({}): {}",
                args.join(" "),
                output.status,
                std::fs::read_to_string(&stderr_path)
                    .unwrap_or_default()
                    .trim()
            );
        }
        Ok((
            Some(String::from_utf8_lossy(&output.stdout).trim().to_owned()),
            elapsed,
            used,
        ))
    }

    /// Mints a token.
    pub fn token(&self, sub: &str, role: &str, org: Option<&str>) -> Result<String> {
        let mut args = vec!["token", "--sub", sub, "--role", role, "--ttl", "12h"];
        if let Some(org) = org {
            args.extend(["--org", org]);
        }
        self.run(&args)
    }

    /// Starts `caseledger serve --listen 127.0.0.1:0`, logging to `log`.
    pub fn serve(&self, log: &Path) -> Result<Server> {
        let log_file =
            std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let child = self
            .command()
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .context("starting caseledger serve")?;
        let mut server = Server {
            child,
            address: String::new(),
        };
        let started = Instant::now();
        loop {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            if let Some(rest) = text.split("is serving on http://").nth(1) {
                if let Some(address) = rest.split_whitespace().next() {
                    server.address = address.to_owned();
                    return Ok(server);
                }
            }
            if let Some(status) = server.child.try_wait().context("watching the server")? {
                bail!("caseledger serve exited ({status}): {}", text.trim());
            }
            if started.elapsed() > Duration::from_secs(60) {
                bail!(
                    "caseledger serve did not start within 60 s: {}",
                    text.trim()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A running `caseledger serve`.
pub struct Server {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub address: String,
}

impl Server {
    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Peak resident set size so far (`VmHWM`), in KiB.
    pub fn peak_memory_kib(&self) -> Result<u64> {
        let path = format!("/proc/{}/status", self.child.id());
        let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse().ok())
            .with_context(|| format!("no VmHWM in {path}"))
    }

    /// Stops the server with SIGTERM and waits for it.
    pub fn stop(mut self) -> Result<()> {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .context("running kill")?;
        if !status.success() {
            bail!("kill -TERM {} failed", self.child.id());
        }
        let exit = self.child.wait().context("waiting for the server")?;
        if !exit.success() {
            bail!("caseledger serve exited with {exit} on SIGTERM");
        }
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Only reached on an error path (stop() consumes a server after a clean stop, when the
        // child has been reaped and kill fails harmlessly).
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
