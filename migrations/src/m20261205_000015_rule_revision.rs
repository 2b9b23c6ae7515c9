//! A revision number that moves with every change to the rules or the block and allow
//! lists, bumped by triggers so that no writer (the API, an import, plain SQL) can
//! forget it. Workers keep the rules they decide with in memory and read only this
//! number per page: a campaign page no longer reads the whole block list again.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261205_000015_rule_revision"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let sql = match manager.get_database_backend() {
            // Once per statement: an import of many entries bumps it once. The row's
            // lock orders writers of rules and lists, which are rare.
            sea_orm::DbBackend::Postgres => {
                "CREATE TABLE rule_revision (id integer PRIMARY KEY CHECK (id = 1), revision bigint NOT NULL);
                 INSERT INTO rule_revision (id, revision) VALUES (1, 0);
                 CREATE FUNCTION bump_rule_revision() RETURNS trigger AS $$
                 BEGIN
                   UPDATE rule_revision SET revision = revision + 1 WHERE id = 1;
                   RETURN NULL;
                 END $$ LANGUAGE plpgsql;
                 CREATE TRIGGER rules_bump_revision AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
                   ON rules FOR EACH STATEMENT EXECUTE FUNCTION bump_rule_revision();
                 CREATE TRIGGER list_entries_bump_revision AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
                   ON list_entries FOR EACH STATEMENT EXECUTE FUNCTION bump_rule_revision();"
            }
            // SQLite has row triggers only; its writers are serialised anyway.
            _ => {
                "CREATE TABLE rule_revision (id integer PRIMARY KEY CHECK (id = 1), revision bigint NOT NULL);
                 INSERT INTO rule_revision (id, revision) VALUES (1, 0);
                 CREATE TRIGGER rules_insert_bumps_revision AFTER INSERT ON rules
                 BEGIN UPDATE rule_revision SET revision = revision + 1 WHERE id = 1; END;
                 CREATE TRIGGER rules_update_bumps_revision AFTER UPDATE ON rules
                 BEGIN UPDATE rule_revision SET revision = revision + 1 WHERE id = 1; END;
                 CREATE TRIGGER rules_delete_bumps_revision AFTER DELETE ON rules
                 BEGIN UPDATE rule_revision SET revision = revision + 1 WHERE id = 1; END;
                 CREATE TRIGGER list_entries_insert_bumps_revision AFTER INSERT ON list_entries
                 BEGIN UPDATE rule_revision SET revision = revision + 1 WHERE id = 1; END;
                 CREATE TRIGGER list_entries_update_bumps_revision AFTER UPDATE ON list_entries
                 BEGIN UPDATE rule_revision SET revision = revision + 1 WHERE id = 1; END;
                 CREATE TRIGGER list_entries_delete_bumps_revision AFTER DELETE ON list_entries
                 BEGIN UPDATE rule_revision SET revision = revision + 1 WHERE id = 1; END;"
            }
        };
        manager.get_connection().execute_unprepared(sql).await?;
        Ok(())
    }
}
