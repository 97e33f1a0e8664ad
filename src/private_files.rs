//! The data dir holds the database, the signing secret and mails with reset codes: on Unix it
//! is private to the account that runs PictureDeck (dir 0700, files 0600). On Windows the
//! per-user data folder (%APPDATA%) is already private to its user.

use std::path::Path;

use anyhow::Context as _;

/// Every file and folder the process creates from now on is its owner's alone (umask 077),
/// including the ones SQLite, storage and the mail outbox create without an explicit mode.
#[cfg(unix)]
pub fn restrict_new_files() {
    use rustix::fs::Mode;
    rustix::process::umask(Mode::RWXG | Mode::RWXO);
}

#[cfg(not(unix))]
pub fn restrict_new_files() {}

/// Creates `dir` (and its parents) owner-only; an existing dir keeps the mode its operator
/// gave it (a warning says when others can read it).
pub fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.is_dir() {
        if let Some(warning) = exposure_warning(dir) {
            tracing::warn!("{warning}");
        }
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .with_context(|| format!("cannot create the data dir {}", dir.display()))
}

/// Writes a new file readable by its owner alone, whatever the umask.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    restrict_to_owner(path)
}

/// Narrows an existing file to its owner (a file written before the umask was set).
#[cfg(unix)]
pub fn restrict_to_owner(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}

#[cfg(not(unix))]
pub fn restrict_to_owner(_path: &Path) -> std::io::Result<()> {
    Ok(())
}

/// A sentence for the operator when others than the owner may read or enter `dir`.
#[cfg(unix)]
pub fn exposure_warning(dir: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then(|| {
        format!(
            "the data dir {} has mode {mode:o}: other accounts on this machine can read the \
             database, secrets and mailed codes; run `chmod 700 {}`",
            dir.display(),
            dir.display()
        )
    })
}

#[cfg(not(unix))]
pub fn exposure_warning(_dir: &Path) -> Option<String> {
    None
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn new_dirs_and_files_are_private_and_open_dirs_are_reported() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/b");
        create_private_dir(&dir).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert!(exposure_warning(&dir).is_none());
        let file = dir.join("f");
        write_private(&file, b"x").unwrap();
        assert_eq!(mode(&file), 0o600);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(exposure_warning(&dir).unwrap().contains("755"));
    }
}
