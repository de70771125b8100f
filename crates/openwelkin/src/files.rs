//! The file store: bytes by key (document files today). One backend, a local directory:
//! a key `a/b/c` is the file `<root>/a/b/c`. The database holds what refers to a key;
//! callers write a file before the row that names it and remove it when that row's
//! transaction fails, and remove it after the commit that deletes its row, so that a
//! row never names a missing file.
//!
//! The directory is `serve --files-dir` (`OPENWELKIN_FILES_DIR`), by default a folder next
//! to the SQLite database (`openwelkin.db` → `openwelkin-files`) or `./openwelkin-files`.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Where files live.
#[derive(Clone, Debug)]
pub struct FileStore {
    root: PathBuf,
}

/// The default directory for a database URL.
pub fn default_dir(database_url: &str) -> PathBuf {
    let fallback = PathBuf::from("openwelkin-files");
    let Some(rest) = database_url.strip_prefix("sqlite:") else { return fallback };
    let path = rest.strip_prefix("//").unwrap_or(rest);
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path.contains(":memory:") {
        return fallback;
    }
    let path = Path::new(path);
    let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else { return fallback };
    path.with_file_name(format!("{stem}-files"))
}

/// Keys are `/`-separated segments of `[A-Za-z0-9_.-]`, none of them `.`, `..` or hidden,
/// so that a key never leaves the root.
fn check_key(key: &str) -> io::Result<()> {
    let ok = !key.is_empty()
        && key.len() <= 512
        && key.split('/').all(|s| {
            !s.is_empty()
                && !s.starts_with('.')
                && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        });
    if ok {
        Ok(())
    } else {
        Err(io::Error::new(io::ErrorKind::InvalidInput, format!("invalid file key {key:?}")))
    }
}

impl FileStore {
    /// A store in a local directory (created on the first write).
    pub fn local(root: impl Into<PathBuf>) -> Self {
        FileStore { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &str) -> io::Result<PathBuf> {
        check_key(key)?;
        Ok(self.root.join(key))
    }

    /// Writes a file durably: to a hidden temporary name, synced, renamed into place,
    /// and the directory synced. An existing file under `key` is replaced.
    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> io::Result<()> {
        let path = self.path(key)?;
        blocking(move || {
            let dir = path.parent().expect("keys have a parent").to_path_buf();
            std::fs::create_dir_all(&dir)?;
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            let tmp = dir.join(format!(".{name}.{}.tmp", crate::ids::new_id()));
            let written = (|| {
                let mut f = std::fs::File::create(&tmp)?;
                f.write_all(&bytes)?;
                f.sync_all()?;
                std::fs::rename(&tmp, &path)?;
                sync_dir(&dir)
            })();
            if written.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            written
        })
        .await
    }

    /// The bytes under `key`, or `None` when there is no such file.
    pub async fn get(&self, key: &str) -> io::Result<Option<Vec<u8>>> {
        let path = self.path(key)?;
        blocking(move || match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        })
        .await
    }

    /// Removes the file under `key`; a missing file is not an error. Directories left
    /// empty are removed too, up to the root.
    pub async fn delete(&self, key: &str) -> io::Result<()> {
        let path = self.path(key)?;
        let root = self.root.clone();
        blocking(move || {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
            let mut dir = path.parent().map(Path::to_path_buf);
            while let Some(d) = dir {
                if d == root || !d.starts_with(&root) || std::fs::remove_dir(&d).is_err() {
                    break;
                }
                dir = d.parent().map(Path::to_path_buf);
            }
            Ok(())
        })
        .await
    }

    /// True when a file is stored under `key`.
    pub async fn exists(&self, key: &str) -> io::Result<bool> {
        let path = self.path(key)?;
        blocking(move || Ok(path.is_file())).await
    }

    /// Copies the file under `from` to `to` (durably, as `put` writes); returns false when
    /// there is no file under `from`.
    pub async fn copy(&self, from: &str, to: &str) -> io::Result<bool> {
        match self.get(from).await? {
            Some(bytes) => self.put(to, bytes).await.map(|_| true),
            None => Ok(false),
        }
    }

    /// Removes a directory of files under the root (a snapshot's copies) and everything
    /// in it; a missing directory is not an error.
    pub async fn delete_tree(&self, prefix: &str) -> io::Result<()> {
        let path = self.path(prefix)?;
        blocking(move || match std::fs::remove_dir_all(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        })
        .await
    }

    /// Removes several files, logging (not returning) failures: for cleanup after a
    /// commit or a failed write, when the request's outcome no longer depends on it.
    pub async fn delete_all(&self, keys: &[String]) {
        for key in keys {
            if let Err(e) = self.delete(key).await {
                tracing::warn!(key, error = %e, "could not remove a stored file; it is orphaned");
            }
        }
    }
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_: &Path) -> io::Result<()> {
    Ok(())
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> io::Result<T> + Send + 'static) -> io::Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(io::Error::other)?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_directory_sits_next_to_a_sqlite_file() {
        assert_eq!(default_dir("sqlite://openwelkin.db"), PathBuf::from("openwelkin-files"));
        assert_eq!(default_dir("sqlite:///tmp/x/test.db?mode=rwc"), PathBuf::from("/tmp/x/test-files"));
        assert_eq!(default_dir("sqlite:data/app.sqlite"), PathBuf::from("data/app-files"));
        assert_eq!(default_dir("sqlite::memory:"), PathBuf::from("openwelkin-files"));
        assert_eq!(default_dir("postgres://u@h/db"), PathBuf::from("openwelkin-files"));
    }

    #[test]
    fn keys_cannot_leave_the_root() {
        for bad in ["", "/a", "a//b", "../a", "a/../b", "a/.hidden", "a/b c", "a\\b", "a/"] {
            assert!(check_key(bad).is_err(), "{bad:?}");
        }
        assert!(check_key("t1/live/patients/3f0e/documents/9ff5-08c7.pdf").is_ok());
    }

    #[tokio::test]
    async fn put_get_delete_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::local(dir.path().join("files"));
        assert_eq!(store.get("a/b/c").await.unwrap(), None);
        store.put("a/b/c", vec![1, 2, 3]).await.unwrap();
        store.put("a/b/c", vec![4, 5]).await.unwrap();
        assert_eq!(store.get("a/b/c").await.unwrap(), Some(vec![4, 5]));
        let names: Vec<_> = std::fs::read_dir(dir.path().join("files/a/b")).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary files are left behind");
        store.delete("a/b/c").await.unwrap();
        store.delete("a/b/c").await.unwrap();
        assert_eq!(store.get("a/b/c").await.unwrap(), None);
        assert!(!dir.path().join("files/a").exists(), "emptied directories are removed");
        assert!(dir.path().join("files").exists(), "the root stays");
    }
}
