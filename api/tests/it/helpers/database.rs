//! A database of its own for each test.

use herald_migrations::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};

pub enum TestDatabase {
    Sqlite {
        _dir: tempfile::TempDir,
        url: String,
    },
    Postgres {
        admin_url: String,
        name: String,
        url: String,
    },
}

fn admin_url() -> String {
    std::env::var("HERALD_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

pub fn backend_is_postgres() -> bool {
    std::env::var("HERALD_TEST_BACKEND").is_ok_and(|b| b == "postgres")
}

impl TestDatabase {
    pub async fn create() -> Self {
        let database = Self::empty().await;
        database.migrate().await;
        database
    }

    /// A database of its own with no tables yet.
    pub async fn empty() -> Self {
        if backend_is_postgres() {
            let admin_url = admin_url();
            let name = format!("herald_test_{}", uuid::Uuid::new_v4().simple());
            let admin = Database::connect(&admin_url)
                .await
                .expect("connect to Postgres");
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("create test database");
            let (base, _) = admin_url.rsplit_once('/').expect("URL has a database");
            let url = format!("{base}/{name}");
            Self::Postgres {
                admin_url,
                name,
                url,
            }
        } else {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("herald.db").display()
            );
            Self::Sqlite { _dir: dir, url }
        }
    }

    pub fn url(&self) -> &str {
        match self {
            Self::Sqlite { url, .. } | Self::Postgres { url, .. } => url,
        }
    }

    async fn migrate(&self) {
        let db = self.connect().await;
        Migrator::up(&db, None).await.expect("migrations apply");
        herald_worker::storage::setup(&db)
            .await
            .expect("job tables");
    }

    pub async fn connect(&self) -> DatabaseConnection {
        let mut config = super::test_config();
        config.database_url = self.url().to_owned().into();
        herald_core::db::connect(&config).await.expect("connect")
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Self::Postgres {
            admin_url, name, ..
        } = self
        else {
            return;
        };
        let (admin_url, name) = (admin_url.clone(), name.clone());
        // Drop runs outside async context; a short-lived runtime on its own thread
        // removes the database so test runs do not pile them up.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(runtime) = runtime {
                runtime.block_on(async {
                    if let Ok(admin) = Database::connect(&admin_url).await {
                        let _ = admin
                            .execute_unprepared(&format!(
                                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                            ))
                            .await;
                    }
                });
            }
        })
        .join();
    }
}
