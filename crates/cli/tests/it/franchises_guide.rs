//! docs/FRANCHISES.md, run as written by the wallet guide's runner (`wallet_guide.rs`): its `sanhu
//! call` commands against a real `sanhu serve` started with its `sanhu.toml`, in its order, each answer
//! compared with the guide's JSON on the fields it shows. On SQLite and on PostgreSQL.

use crate::common::{Database, PostgresSchema};
use crate::wallet_guide::{run_the_guide, Guide};

const FRANCHISES_GUIDE: Guide = Guide {
    text: include_str!("../../../../docs/FRANCHISES.md"),
    path: "docs/FRANCHISES.md",
    asks_a_channel: false,
    calls_min: 45,
};

#[test]
fn the_franchises_guide_runs_as_written_on_sqlite() {
    run_the_guide(&FRANCHISES_GUIDE, Database::Sqlite);
}

#[test]
fn the_franchises_guide_runs_as_written_on_postgres() {
    let Some(schema) = PostgresSchema::create("t_cli") else { return };
    run_the_guide(&FRANCHISES_GUIDE, Database::Postgres(schema));
}
