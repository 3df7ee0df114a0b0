//! What the real binary shows someone outside it: the modes of the database files it makes, what it
//! does with a database URL it cannot open, and how it holds up under a flood of sign-ins that need
//! no credential (memory bounded, signed requests still answered).

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::*;

fn mode_of(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap_or_else(|e| panic!("stat {}: {e}", path.display())).permissions().mode() & 0o777
}

#[test]
fn the_sqlite_database_and_its_wal_and_shared_memory_files_are_readable_by_their_owner_only() {
    let work = WorkDir::new("file-modes");
    let dir = work.path.as_path();
    let mut server = Server::new(dir, &Database::Sqlite);
    server.start();
    let credential = Credential::load(dir);
    get_ok(server.port, &credential, "/v1/ledger/accounts");
    for name in ["sanhu.db", "sanhu.db-wal", "sanhu.db-shm", "sanhu-secret.key", "sanhu-data.key"] {
        assert_eq!(mode_of(&dir.join(name)), 0o600, "{name} is made readable by its owner only");
    }
    server.stop();

    // Files an earlier version left readable by everyone are narrowed at the next start.
    for name in ["sanhu.db", "sanhu.db-wal", "sanhu.db-shm"] {
        let path = dir.join(name);
        if path.exists() {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("widen the file");
        }
    }
    server.start();
    get_ok(server.port, &credential, "/v1/ledger/accounts");
    for name in ["sanhu.db", "sanhu.db-wal", "sanhu.db-shm"] {
        assert_eq!(mode_of(&dir.join(name)), 0o600, "{name} is narrowed to its owner at start");
    }
    server.stop();
}

#[test]
fn a_database_url_of_another_scheme_stops_start_up_naming_the_setting() {
    let work = WorkDir::new("database-url");
    let dir = work.path.as_path();
    for url in ["mysql://x", "mysql://app:hunter2@db/sanhu", "postgress://db/sanhu", "sanhu.db", "sqlite://"] {
        for command in ["serve", "migrate"] {
            let args = [command.to_owned(), "--database-url".to_owned(), url.to_owned()];
            let (status, stdout, stderr) = run_bounded(sanhu(dir, &args), COMMAND_TIMEOUT);
            assert!(!status.success(), "{command} with {url} succeeded:\n{stdout}{stderr}");
            assert!(stderr.contains("database_url") && stderr.contains("--database-url"), "{url}: {stderr}");
            assert!(stderr.contains("sqlite://") && stderr.contains("postgres://"), "{url}: {stderr}");
            assert!(!stderr.contains("hunter2"), "the message repeats a password: {stderr}");
        }
        // Nothing was made: no database, no folder named after the scheme.
        let made: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert!(made.iter().all(|name| name != "sanhu.db" && name != "mysql:" && name != "postgress:"), "{made:?}");
    }
    // The environment is read the same way.
    let mut command = sanhu(dir, &["migrate".to_owned()]);
    command.env("SANHU_DATABASE_URL", "mysql://x");
    let (status, _, stderr) = run_bounded(command, COMMAND_TIMEOUT);
    assert!(!status.success() && stderr.contains("database_url"), "{stderr}");
    // The documented forms still work.
    let path = dir.join("named.db");
    let url = format!("sqlite://{}", path.display());
    let (status, stdout, stderr) =
        run_bounded(sanhu(dir, &["migrate".to_owned(), "--database-url".to_owned(), url]), COMMAND_TIMEOUT);
    assert!(status.success() && path.is_file(), "{stdout}{stderr}");
    assert_eq!(mode_of(&path), 0o600);
}
