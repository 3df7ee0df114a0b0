//! Faults made in the database itself: a trigger that refuses the rows of a table that match a
//! condition, on either backend, as a failing disk (every row) or a row the database cannot store (one
//! row) would refuse them. The store under test sees the database's own error, as in production.

use sanhu_store::testing::{Backend, TestDatabase};

/// Runs `sql` (one or more statements) on the test's database, on a connection of its own.
pub async fn execute(db: &TestDatabase, sql: &str) {
    match db.backend {
        Backend::Sqlite => {
            let path = db.url.strip_prefix("sqlite://").expect("a SQLite URL").to_owned();
            let sql = sql.to_owned();
            tokio::task::spawn_blocking(move || {
                rusqlite::Connection::open(path).expect("open the test database").execute_batch(&sql).expect("run SQL")
            })
            .await
            .expect("the SQL task");
        }
        Backend::Postgres => {
            let (client, connection) =
                tokio_postgres::connect(&db.url, tokio_postgres::NoTls).await.expect("connect to the test database");
            tokio::spawn(connection);
            client.batch_execute(sql).await.expect("run SQL");
        }
    }
}

/// Makes the database refuse every insert into `table` of a row for which `condition` holds (SQL
/// over the row as `NEW`, e.g. `NEW.request_id = 'req_1'`, or `TRUE`), until [`allow_rows`] with the
/// same `name`. An insert that would update a row instead (an upsert) is refused too.
pub async fn refuse_rows(db: &TestDatabase, name: &str, table: &str, condition: &str) {
    let sql = match db.backend {
        Backend::Sqlite => format!(
            "CREATE TRIGGER {name} BEFORE INSERT ON {table} WHEN {condition} \
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;"
        ),
        Backend::Postgres => format!(
            "CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN IF {condition} THEN RAISE EXCEPTION 'refused by the test'; END IF; RETURN NEW; END; $$; \
             CREATE TRIGGER {name} BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION {name}();"
        ),
    };
    execute(db, &sql).await;
}

/// Undoes [`refuse_rows`] of `name` on `table`.
pub async fn allow_rows(db: &TestDatabase, name: &str, table: &str) {
    let sql = match db.backend {
        Backend::Sqlite => format!("DROP TRIGGER {name};"),
        Backend::Postgres => format!("DROP TRIGGER {name} ON {table}; DROP FUNCTION {name}();"),
    };
    execute(db, &sql).await;
}

/// Makes the database refuse every delete from `table` of a row for which `condition` holds (SQL over
/// the row as `OLD`, or `TRUE`), until [`allow_deletes`] with the same `name`: a release that cannot be
/// committed.
pub async fn refuse_deletes(db: &TestDatabase, name: &str, table: &str, condition: &str) {
    let sql = match db.backend {
        Backend::Sqlite => format!(
            "CREATE TRIGGER {name} BEFORE DELETE ON {table} WHEN {condition} \
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;"
        ),
        Backend::Postgres => format!(
            "CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN IF {condition} THEN RAISE EXCEPTION 'refused by the test'; END IF; RETURN OLD; END; $$; \
             CREATE TRIGGER {name} BEFORE DELETE ON {table} FOR EACH ROW EXECUTE FUNCTION {name}();"
        ),
    };
    execute(db, &sql).await;
}

/// Undoes [`refuse_deletes`] of `name` on `table`.
pub async fn allow_deletes(db: &TestDatabase, name: &str, table: &str) {
    allow_rows(db, name, table).await;
}
