//! An independent check of Herald's webhook signatures: the reference
//! `standardwebhooks` Python package, in a throwaway virtual environment made once per
//! build under the tests' temporary folder (pip fetches it from PyPI the first time).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::receiver::Hook;

const PACKAGE: &str = "standardwebhooks==1.3.0";
const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/it/helpers/verify_standard_webhooks.py"
);

/// The virtual environment's python, made on first use.
fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let home = Path::new(env!("CARGO_TARGET_TMPDIR")).join("standardwebhooks-venv");
        let python = home.join("bin/python");
        if python.exists() {
            return python;
        }
        // Made beside its final place and renamed into it, so test processes that
        // start together never see half an environment.
        let building = home.with_extension(format!("building-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&building);
        run(Command::new("python3").args(["-m", "venv"]).arg(&building));
        run(Command::new(building.join("bin/pip")).args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            PACKAGE,
        ]));
        if std::fs::rename(&building, &home).is_err() {
            // Another process made it first.
            let _ = std::fs::remove_dir_all(&building);
        }
        python
    })
}

fn run(command: &mut Command) {
    let output = command.output().expect("python3 runs");
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// What the reference library makes of each request signed with `secret`: the
/// verified payload, or `None` where it refused the signature.
pub fn verify(secret: &str, hooks: &[Hook]) -> Vec<Option<Value>> {
    let requests: Vec<Value> = hooks
        .iter()
        .map(|hook| {
            let headers: serde_json::Map<String, Value> = hook
                .headers
                .iter()
                .map(|(name, value)| {
                    (
                        name.as_str().to_owned(),
                        Value::from(value.to_str().unwrap_or_default()),
                    )
                })
                .collect();
            json!({ "headers": headers, "body": STANDARD.encode(&hook.body) })
        })
        .collect();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), serde_json::to_vec(&requests).unwrap()).unwrap();
    let output = Command::new(python())
        .arg(SCRIPT)
        .arg(secret)
        .arg(file.path())
        .output()
        .expect("the verifier runs");
    assert!(
        output.status.success(),
        "the verifier failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let results: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    results
        .into_iter()
        .map(|result| (result["verified"] == true).then(|| result["payload"].clone()))
        .collect()
}
