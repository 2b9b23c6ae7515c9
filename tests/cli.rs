//! The `herald` binary as an operator runs it: real processes, real signals.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[path = "../api/tests/it/helpers/processes.rs"]
mod processes;

use processes::free_port;

fn herald(data_dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_herald"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HERALD_DATA_DIR", data_dir)
        .env("HERALD_LOG__FILTER", "warn");
    command
}

#[test]
fn a_bad_setting_stops_start_up_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    for (key, value, named) in [
        ("HERALD_LISTEN", "nowhere", "listen"),
        ("HERALD_DATABASE_URL", "mysql://localhost/x", "database_url"),
        ("HERALD_LOG__FORMAT", "xml", "format"),
        ("HERALD_LISTN", "127.0.0.1:1", "listn"),
        (
            "HERALD_DELIVERY__RETRY_SCHEDULE_SECS",
            "[10, 18446744073709551615]",
            "retry_schedule_secs",
        ),
        ("HERALD_DELIVERY__LEASE_SECS", "0", "lease_secs"),
    ] {
        let output = herald(dir.path())
            .arg("migrate")
            .env(key, value)
            .output()
            .unwrap();
        assert!(!output.status.success(), "{key}={value} must be refused");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.to_lowercase().contains(named), "{key}: {stderr}");
    }
}

#[test]
fn the_sealing_key_is_generated_private_once_and_a_bad_one_stops_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let reseal = herald(dir.path())
        .args(["secrets", "reseal"])
        .output()
        .unwrap();
    assert!(reseal.status.success(), "{reseal:?}");
    assert!(String::from_utf8_lossy(&reseal.stdout).contains("Resealed the secrets of 0"));
    let key_file = dir.path().join("secrets.key");
    let key = std::fs::read_to_string(&key_file).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "only the owner reads the key");
    }
    herald(dir.path())
        .args(["secrets", "reseal"])
        .output()
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(&key_file).unwrap(),
        key,
        "kept, not replaced"
    );

    let refused = herald(dir.path())
        .args(["secrets", "reseal"])
        .env("HERALD_SECRETS__KEY", "too-short")
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("secrets.key"));
}

fn wait_until_healthy(port: u16, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if probe::healthy(port) {
            return;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("herald exited early with {status}");
        }
        assert!(Instant::now() < deadline, "herald did not become healthy");
        std::thread::sleep(Duration::from_millis(100));
    }
}

mod probe {
    /// A blocking health probe over a plain TCP socket (no runtime needed).
    pub fn healthy(port: u16) -> bool {
        use std::io::{Read, Write};
        let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
            return false;
        };
        let request = "GET /healthz HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n";
        if stream.write_all(request.as_bytes()).is_err() {
            return false;
        }
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        response.starts_with("HTTP/1.1 200")
    }
}

#[test]
fn serve_prints_how_to_log_in_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = herald(dir.path())
        .arg("serve")
        .env("HERALD_LISTEN", format!("127.0.0.1:{port}"))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until_healthy(port, &mut child);
    assert!(
        dir.path().join("herald.db").exists(),
        "the embedded database is created"
    );

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "herald did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "graceful shutdown exits 0, got {exit}");

    let banner: Vec<String> = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .collect();
    let text = banner.join("\n");
    assert!(text.contains("as `admin` with password"), "{text}");
    assert!(text.contains(&format!("127.0.0.1:{port}/docs")), "{text}");
    let password = banner
        .iter()
        .skip_while(|l| !l.contains("with password"))
        .nth(2)
        .map(|l| l.trim().to_owned())
        .unwrap();
    assert!(
        password.len() >= 20,
        "a generated password is printed: {text}"
    );

    // A second start finds the admin already there and prints no password.
    let port = free_port();
    let mut again = herald(dir.path())
        .arg("serve")
        .env("HERALD_LISTEN", format!("127.0.0.1:{port}"))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until_healthy(port, &mut again);
    Command::new("kill")
        .args(["-TERM", &again.id().to_string()])
        .status()
        .unwrap();
    let output = again.wait_with_output().unwrap();
    assert!(!String::from_utf8_lossy(&output.stdout).contains("password"));
}

#[test]
fn api_key_create_prints_a_working_secret_once() {
    let dir = tempfile::tempdir().unwrap();
    let output = herald(dir.path())
        .args([
            "api-key",
            "create",
            "--name",
            "ci",
            "--scopes",
            "subscribers:read,messages:send",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let secret = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    assert!(secret.starts_with("hk_"), "{secret}");

    let refused = herald(dir.path())
        .args([
            "api-key",
            "create",
            "--name",
            "bad",
            "--scopes",
            "operators:manage",
        ])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("scopes[0]"));
}

#[test]
fn openapi_prints_the_committed_document() {
    let dir = tempfile::tempdir().unwrap();
    let output = herald(dir.path()).arg("openapi").output().unwrap();
    assert!(output.status.success());
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json"))
            .unwrap();
    assert_eq!(String::from_utf8(output.stdout).unwrap(), committed);
}

#[test]
fn admin_create_takes_its_password_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let create = |username: &str| {
        herald(dir.path())
            .args([
                "admin",
                "create",
                "--username",
                username,
                "--role",
                "reviewer",
            ])
            .env("HERALD_NEW_OPERATOR_PASSWORD", "a long enough password")
            .output()
            .unwrap()
    };
    let first = create("rita");
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(
        stdout.contains("created operator `rita` (reviewer)"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("password"),
        "a chosen password is not echoed"
    );
    let again = create("rita");
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already taken"));
}

/// `herald prune` prunes the embedded database's delivery log to the retention period
/// at once, chunk after chunk, and the counts stay in the totals.
#[tokio::test]
async fn prune_empties_the_log_past_retention_at_once() {
    use chrono::{Duration as Days, Utc};
    use herald_core::entities::{delivery, message};
    use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait, PaginatorTrait};

    let dir = tempfile::tempdir().unwrap();
    assert!(
        herald(dir.path())
            .arg("migrate")
            .status()
            .unwrap()
            .success()
    );
    let db = sea_orm::Database::connect(format!(
        "sqlite://{}?mode=rw",
        dir.path().join("herald.db").display()
    ))
    .await
    .unwrap();
    let now = Utc::now();
    let message = message::Entity::insert(message::ActiveModel {
        kind: Set("transactional".to_owned()),
        category: Set("orders".to_owned()),
        data: Set(serde_json::json!({})),
        channels: Set(serde_json::json!(["webhook"])),
        sender: Set("test".to_owned()),
        created_at: Set(now),
        ..Default::default()
    })
    .exec(&db)
    .await
    .unwrap()
    .last_insert_id;
    for (subscriber, age) in [(1, 400), (2, 380), (3, 1)] {
        let created = now - Days::days(age);
        delivery::Entity::insert(delivery::ActiveModel {
            message_id: Set(message),
            subscriber_id: Set(subscriber),
            channel: Set("webhook".to_owned()),
            status: Set("delivered".to_owned()),
            attempts: Set(1),
            created_at: Set(created),
            updated_at: Set(created),
            ..Default::default()
        })
        .exec(&db)
        .await
        .unwrap();
    }

    let output = herald(dir.path())
        .env("HERALD_RETENTION__BATCH_SIZE", "1")
        .arg("prune")
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{printed}");
    assert!(
        printed.starts_with(
            "pruned 2 deliveries, 0 transactional messages and 0 delivered event batches"
        ),
        "{printed}"
    );
    assert_eq!(delivery::Entity::find().count(&db).await.unwrap(), 1);
    let counted = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT SUM(count) AS n FROM delivery_totals",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(counted.try_get::<i64>("", "n").unwrap(), 2);
}
