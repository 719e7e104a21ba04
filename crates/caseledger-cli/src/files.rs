//! Files at rest: the data directory is the owner's only (0700) and the SQLite database with its
//! WAL and shared-memory files are the owner's only (0600), set when `serve` or `migrate`
//! creates them and again on every start (an operator's `cp` or `tar` may have widened them).
//!
//! The directory is made private before the database is opened, so a database file created in
//! it is never reachable by another user, even in the moment before its own mode is set. A
//! database outside the data directory (`--database-url sqlite:///elsewhere.db`) gets 0600 on
//! its files; its directory is left as the operator made it. SQLite creates the WAL and
//! shared-memory files later with the mode of the database file, so they stay 0600.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::config::DatabaseUrl;

/// The mode of the data directory.
const DIRECTORY_MODE: u32 = 0o700;

/// The mode of the database and its WAL and shared-memory files.
const DATABASE_MODE: u32 = 0o600;

/// Creates `data_dir` when missing, and makes it the owner's only.
pub fn prepare_data_dir(data_dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(DIRECTORY_MODE)
            .create(data_dir)
            .with_context(|| format!("creating {}", data_dir.display()))?;
        set_mode(data_dir, DIRECTORY_MODE)
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("creating {}", data_dir.display()))
    }
}

/// Makes the SQLite database of `url` and its `-wal` and `-shm` files, those that exist, the
/// owner's only. Nothing to do for PostgreSQL.
pub fn protect_database(url: &DatabaseUrl) -> Result<()> {
    let Some(database) = sqlite_file(url.expose()) else {
        return Ok(());
    };
    for suffix in ["", "-wal", "-shm"] {
        let mut name = database.clone().into_os_string();
        name.push(suffix);
        let path = PathBuf::from(name);
        if path.exists() {
            set_mode(&path, DATABASE_MODE)?;
        }
    }
    Ok(())
}

/// The file a `sqlite:` URL names (`sqlite://path`, `sqlite:path`, options after `?`), or none
/// for another database or an in-memory one.
fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return None;
    }
    Some(PathBuf::from(path))
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("setting the mode of {} to {mode:o}", path.display()))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_their_file() {
        assert_eq!(
            sqlite_file("sqlite://./data/caseledger.db"),
            Some(PathBuf::from("./data/caseledger.db"))
        );
        assert_eq!(
            sqlite_file("sqlite:///var/lib/c.db?mode=rwc"),
            Some(PathBuf::from("/var/lib/c.db"))
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://u@h/db"), None);
    }
}
