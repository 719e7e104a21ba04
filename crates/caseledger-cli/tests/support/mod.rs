//! What the CLI tests share: the binary, a command aimed at a store and a data directory, a
//! `serve` that has said where it listens, and a graceful stop. Each test file is its own crate
//! and uses part of this, hence the `dead_code` allowance.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_caseledger");

/// `caseledger` with the store `url` and `data_dir`, and no secret from the environment.
pub fn command(url: &str, data_dir: &Path) -> Command {
    let mut command = Command::new(BIN);
    command
        .env("CASELEDGER_DATABASE_URL", url)
        .env("CASELEDGER_DATA_DIR", data_dir)
        .env_remove("CASELEDGER_JWT_SECRET");
    command
}

/// Runs `caseledger args…`, asserts it succeeded, and returns its trimmed standard output.
pub fn run_ok(url: &str, data_dir: &Path, args: &[&str]) -> String {
    let output = command(url, data_dir).args(args).output().unwrap();
    assert!(
        output.status.success(),
        "caseledger {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// `caseledger serve` on a free loopback port for `url` and `data_dir`, not yet spawned.
pub fn serve_command(url: &str, data_dir: &Path) -> Command {
    let mut serve = command(url, data_dir);
    serve.args(["serve", "--listen", "127.0.0.1:0"]);
    serve
}

/// Spawns a prepared `serve` command and returns it with the address it printed. Its standard
/// error is drained for as long as it runs (so it never blocks on a full pipe), into `log` when
/// given.
pub fn listening(mut command: Command, log: Option<PathBuf>) -> (Child, String) {
    let mut child = command.stderr(Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let address = loop {
        let line = lines
            .next()
            .expect("serve exited before listening")
            .unwrap();
        if let Some(rest) = line.split("is serving on http://").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    std::thread::spawn(move || {
        let mut file = log.and_then(|log| std::fs::File::create(log).ok());
        for line in lines.map_while(Result::ok) {
            if let Some(file) = file.as_mut() {
                let _ = writeln!(file, "{line}");
            }
        }
    });
    (child, address)
}

/// Sends SIGTERM to `child`.
pub fn send_sigterm(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Stops `child` with SIGTERM and asserts it exited cleanly.
pub fn terminate(mut child: Child) {
    send_sigterm(&child);
    let exit = child.wait().unwrap();
    assert!(
        exit.success(),
        "serve did not stop cleanly on SIGTERM: {exit:?}"
    );
}
