//! JWT signing secrets. The built-in defaults of the reference are public, so
//! an unset secret is generated on first start (32 random bytes from the OS)
//! and kept in the data directory with mode 0600, so tokens survive restarts.
//! A configured secret is used as given, with a loud warning when it is a
//! published default or shorter than 32 bytes.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context};
use rocket_config::{Config, Driver};

pub const MIN_SECRET_BYTES: usize = 32;

/// Defaults published by the reference and its examples.
const KNOWN_DEFAULTS: &[&str] = &[
    "changeme-platform-secret",
    "changeme-secret",
    "changeme",
    "secret",
    "jwt-secret",
    "your-secret-key",
];

/// Fills the unset secrets of `config` and warns about weak configured ones.
pub fn resolve(config: &mut Config) -> anyhow::Result<()> {
    let dir = config.database.path.clone();
    let shared_store = config.database.driver == Driver::Postgres;
    for (key, value) in [
        ("platform_jwt_secret", &mut config.platform_jwt_secret),
        ("jwt_secret", &mut config.jwt_secret),
    ] {
        if value.is_empty() {
            *value = load_or_generate(&dir, key, shared_store)?;
        } else if let Some(why) = weakness(value) {
            tracing::warn!(
                "SECURITY: the configured {key} {why}: anyone who knows it can forge tokens. \
                 Set at least {MIN_SECRET_BYTES} random bytes, or unset it to have one generated."
            );
        }
    }
    Ok(())
}

/// Why a configured secret is weak, if it is.
pub fn weakness(secret: &str) -> Option<&'static str> {
    if KNOWN_DEFAULTS
        .iter()
        .any(|d| d.eq_ignore_ascii_case(secret.trim()))
    {
        Some("is a published default")
    } else if secret.len() < MIN_SECRET_BYTES {
        Some("is shorter than 32 bytes")
    } else {
        None
    }
}

pub fn secret_path(dir: &Path, key: &str) -> PathBuf {
    dir.join(format!("{key}.key"))
}

fn load_or_generate(dir: &Path, key: &str, shared_store: bool) -> anyhow::Result<String> {
    let path = secret_path(dir, key);
    if let Some(s) = read(&path)? {
        return Ok(s);
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let secret = rocket_auth::random_hex(MIN_SECRET_BYTES);
    // A private temporary file linked into place only if none exists yet, so
    // nodes starting together on one directory all end up with the same secret.
    let mut tmp = private_temp_file(dir)?;
    tmp.write_all(secret.as_bytes())?;
    tmp.as_file().sync_all()?;
    match tmp.persist_noclobber(&path) {
        Ok(_) => {
            tracing::warn!(
                "generated a random {key} (none configured) and saved it in {}; later starts reuse it{}",
                path.display(),
                if shared_store {
                    ". Nodes sharing this PostgreSQL must share the secret: configure it or share the file"
                } else {
                    ""
                }
            );
            Ok(secret)
        }
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {
            read(&path)?.ok_or_else(|| anyhow!("{} vanished while starting", path.display()))
        }
        Err(e) => Err(anyhow!("cannot save {}: {}", path.display(), e.error)),
    }
}

fn private_temp_file(dir: &Path) -> anyhow::Result<tempfile::NamedTempFile> {
    let mut b = tempfile::Builder::new();
    b.prefix(".secret-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        b.permissions(std::fs::Permissions::from_mode(0o600));
    }
    b.tempfile_in(dir)
        .with_context(|| format!("cannot write a secret in {}", dir.display()))
}

/// A saved secret, or None when there is none yet.
fn read(path: &Path) -> anyhow::Result<Option<String>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(anyhow!("cannot read {}: {e}", path.display())),
    };
    let secret = text.trim();
    if secret.len() < 2 * MIN_SECRET_BYTES || !secret.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(anyhow!(
            "{} is not a generated secret ({} hex characters expected); remove it to generate a new one",
            path.display(),
            2 * MIN_SECRET_BYTES
        ));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(m) = std::fs::metadata(path) {
            if m.permissions().mode() & 0o077 != 0 {
                tracing::warn!(
                    "SECURITY: {} is readable by other users; chmod 600 it",
                    path.display()
                );
            }
        }
    }
    Ok(Some(secret.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_secrets_are_named() {
        assert_eq!(
            weakness("changeme-platform-secret"),
            Some("is a published default")
        );
        assert_eq!(weakness("CHANGEME-SECRET"), Some("is a published default"));
        assert_eq!(weakness("short"), Some("is shorter than 32 bytes"));
        assert_eq!(weakness(&"x".repeat(32)), None);
    }

    #[test]
    fn generated_once_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let mut c = Config::default();
        c.database.path = data.clone();
        resolve(&mut c).unwrap();
        assert_eq!(c.platform_jwt_secret.len(), 64);
        assert_ne!(c.platform_jwt_secret, c.jwt_secret);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(secret_path(&data, "platform_jwt_secret"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let mut again = Config::default();
        again.database.path = data.clone();
        resolve(&mut again).unwrap();
        assert_eq!(again.platform_jwt_secret, c.platform_jwt_secret, "reused");
        assert_eq!(again.jwt_secret, c.jwt_secret);
        let mut configured = Config::default();
        configured.database.path = data.clone();
        configured.platform_jwt_secret = "changeme-platform-secret".into();
        resolve(&mut configured).unwrap();
        assert_eq!(
            configured.platform_jwt_secret, "changeme-platform-secret",
            "used, with a warning"
        );
        std::fs::write(secret_path(&data, "jwt_secret"), "garbage").unwrap();
        let mut broken = Config::default();
        broken.database.path = data;
        assert!(resolve(&mut broken)
            .unwrap_err()
            .to_string()
            .contains("jwt_secret.key"));
    }
}
