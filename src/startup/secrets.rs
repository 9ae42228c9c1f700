//! The signing keys and secrets a server needs, from configuration or, in development, made
//! once into the data folder; a key file others can read is refused.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

use crate::auth::keys::{self, KeySet};
use crate::config::{
    decode_mfa_key, JwtAlgorithm, Profile, Settings, MFA_KEY_BYTES, MIN_SECRET_BYTES,
};
use crate::crypto;

/// The signing keys the settings name: the HS256 secret, or the Ed25519 private key file and the
/// previous public keys; in development a missing secret or key is made in the data folder.
pub fn resolve_keys(settings: &Settings) -> anyhow::Result<KeySet> {
    let jwt = &settings.jwt;
    if jwt.algorithm == JwtAlgorithm::HS256 {
        return Ok(KeySet::Hs256 {
            secret: resolve_secret(settings)?,
        });
    }
    let read = |path: &Path, what: &str| {
        std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the {what} {}", path.display()))
    };
    let read_private = |path: &Path, what: &str| {
        refuse_if_readable_by_others(path, what)?;
        read(path, what)
    };
    let private_pem = if jwt.private_key_file.is_empty() {
        anyhow::ensure!(
            settings.profile == Profile::Development,
            "jwt.private_key_file is missing: set PORTCULLIS__JWT__PRIVATE_KEY_FILE \
             (make one with `portcullis keys generate`)"
        );
        let path = settings.data.dir.join("jwt_ed25519.pem");
        if path.exists() {
            read_private(&path, "development key")?
        } else {
            let (private, _, key) = keys::generate();
            write_private(&path, &private)?;
            tracing::info!(path = %path.display(), kid = key.kid, "generated a development Ed25519 key");
            private
        }
    } else {
        read_private(Path::new(&jwt.private_key_file), "jwt.private_key_file")?
    };
    let current = keys::public_of(&private_pem).context("jwt.private_key_file")?;
    let previous = jwt
        .previous_public_key_files
        .iter()
        .map(|f| {
            let pem = read(Path::new(f), "previous public key")?;
            keys::PublicKey::from_pem(&pem).with_context(|| f.clone())
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(KeySet::Ed25519 {
        private_pem,
        current,
        previous,
    })
}

/// The configured secret, or in development the one kept in the data folder (made on first use).
pub fn resolve_secret(settings: &Settings) -> anyhow::Result<Vec<u8>> {
    if !settings.jwt.secret.is_empty() {
        return Ok(settings.jwt.secret.as_bytes().to_vec());
    }
    anyhow::ensure!(
        settings.profile == Profile::Development,
        "jwt.secret is missing: set PORTCULLIS__JWT__SECRET"
    );
    let path = settings.data.dir.join("jwt_secret");
    if path.exists() {
        refuse_if_readable_by_others(&path, "development JWT secret")?;
    }
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let existing = existing.trim();
        anyhow::ensure!(
            existing.len() >= MIN_SECRET_BYTES,
            "{} is shorter than {MIN_SECRET_BYTES} bytes; delete it to have a new one generated",
            path.display()
        );
        return Ok(existing.as_bytes().to_vec());
    }
    let secret = crypto::b64(&crypto::random_bytes::<48>());
    write_private(&path, &secret)?;
    tracing::info!(path = %path.display(), "generated a development JWT secret");
    Ok(secret.into_bytes())
}

/// `mfa.encryption_key`, or in development the one kept in `{data.dir}/mfa_key` (made on first
/// use, mode 0600). Production refuses to start without it (config validation).
pub fn resolve_mfa_key(settings: &Settings) -> anyhow::Result<[u8; MFA_KEY_BYTES]> {
    let configured = &settings.mfa.encryption_key;
    if !configured.is_empty() {
        return decode_mfa_key(configured).context(
            "mfa.encryption_key is not 32 bytes of URL-safe base64 (PORTCULLIS__MFA__ENCRYPTION_KEY)",
        );
    }
    anyhow::ensure!(
        settings.profile == Profile::Development,
        "mfa.encryption_key is missing: set PORTCULLIS__MFA__ENCRYPTION_KEY"
    );
    let path = settings.data.dir.join("mfa_key");
    if path.exists() {
        refuse_if_readable_by_others(&path, "development MFA key")?;
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        return decode_mfa_key(&text).with_context(|| {
            format!(
                "{} is not 32 bytes of URL-safe base64; it seals the TOTP secrets, so restore it \
                 (deleting it voids every TOTP factor)",
                path.display()
            )
        });
    }
    let key = crypto::random_bytes::<MFA_KEY_BYTES>();
    write_private(&path, &crypto::b64(&key))?;
    tracing::info!(path = %path.display(), "generated a development MFA key");
    Ok(key)
}

/// A key or secret file that its group or others may read or write is refused: whoever can
/// read it can mint tokens.
pub fn refuse_if_readable_by_others(path: &Path, what: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .with_context(|| format!("cannot read the {what} {}", path.display()))?
        .permissions()
        .mode();
    anyhow::ensure!(
        mode & 0o077 == 0,
        "the {what} {} may be read or written by its group or others (mode {:o}); \
         only its owner may: chmod 600 {}",
        path.display(),
        mode & 0o777,
        path.display()
    );
    Ok(())
}

/// Writes a file only its owner may read (mode 0600), making its folder if needed.
pub fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(contents.as_bytes())?;
    Ok(())
}

/// `oidc.rsa_private_key_file`, or in development the key kept in `{data.dir}/oidc_rsa.pem`
/// (made on first use, mode 0600). Production refuses to start without it (config validation).
pub fn resolve_rsa_key(settings: &Settings) -> anyhow::Result<crate::oidc::keys::RsaKey> {
    use crate::oidc::keys::{generate, RsaKey};
    let configured = settings.oidc.rsa_private_key_file.trim();
    if !configured.is_empty() {
        let path = Path::new(configured);
        refuse_if_readable_by_others(path, "oidc.rsa_private_key_file")?;
        let pem = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read oidc.rsa_private_key_file {configured}"))?;
        return RsaKey::from_pem(&pem).context("oidc.rsa_private_key_file");
    }
    anyhow::ensure!(
        settings.profile == Profile::Development,
        "oidc.rsa_private_key_file is missing: set PORTCULLIS__OIDC__RSA_PRIVATE_KEY_FILE"
    );
    let path = settings.data.dir.join("oidc_rsa.pem");
    if path.exists() {
        refuse_if_readable_by_others(&path, "development RSA key")?;
        let pem = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        return RsaKey::from_pem(&pem).with_context(|| path.display().to_string());
    }
    let pem = generate();
    write_private(&path, &pem)?;
    let key = RsaKey::from_pem(&pem)?;
    tracing::info!(path = %path.display(), kid = key.kid, "generated a development RSA key for ID tokens");
    Ok(key)
}

/// The earlier RSA keys' public halves (`oidc.previous_rsa_public_key_files`), still published
/// after a rotation.
pub fn previous_rsa_keys(
    settings: &Settings,
) -> anyhow::Result<Vec<crate::oidc::keys::RsaPublicPart>> {
    settings
        .oidc
        .previous_rsa_public_key_files
        .iter()
        .map(|f| {
            let pem = std::fs::read_to_string(f).with_context(|| {
                format!("cannot read oidc.previous_rsa_public_key_files entry {f}")
            })?;
            crate::oidc::keys::RsaPublicPart::from_pem(&pem)
                .with_context(|| format!("oidc.previous_rsa_public_key_files: {f}"))
        })
        .collect()
}
