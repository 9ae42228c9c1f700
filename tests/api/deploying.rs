//! The deployment examples in docs/deploying.md work as shipped.

use std::process::Command;

use crate::helpers::*;

#[test]
fn the_systemd_unit_passes_systemd_analyze() {
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/systemd/portcullis.service"
    ))
    .unwrap();
    assert!(unit.contains("ExecStart=/usr/local/bin/portcullis serve"));
    // The same unit, pointing at the binary under test.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("portcullis.service");
    std::fs::write(
        &path,
        unit.replace(
            "/usr/local/bin/portcullis",
            env!("CARGO_BIN_EXE_portcullis"),
        ),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze (Debian package systemd; scripts/test.sh installs it)");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_example_production_config_is_valid() {
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .env_clear()
        .env("PORTCULLIS_PROFILE", "production")
        .env(
            "PORTCULLIS_CONFIG_DIR",
            concat!(env!("CARGO_MANIFEST_DIR"), "/examples/systemd"),
        )
        .env(
            "PORTCULLIS__DATABASE__URL",
            "postgres://portcullis@127.0.0.1:5432/portcullis",
        )
        .env("PORTCULLIS__REDIS__URL", REDIS_URL)
        .env("PORTCULLIS__JWT__SECRET", "x".repeat(48))
        .env(
            "PORTCULLIS__MFA__ENCRYPTION_KEY",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
        )
        .args(["config", "check"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("profile:  production"));
}
