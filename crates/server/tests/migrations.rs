//! Committed migrations never change: every one's checksum is pinned here, and a database that
//! applied migration 0011 as it was edited after its commit, or as first committed, migrates to
//! the latest schema.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::*;
use resonance_server::config::DatabaseUrl;
use resonance_server::db::{EDITED_MIGRATIONS, MIGRATOR};
use resonance_server::Db;
use sha2::Digest;

/// The SHA-384 (sqlx's checksum) of every committed migration. A new migration adds a line; a
/// changed line means a committed migration was edited: write a new migration instead.
const COMMITTED: [(i64, &str); SERVER_MIGRATIONS] = [
    (1, "fa62500a22c0393ae28c26be81b9f56cdf2701d5c9e0a6fc7a37c3482c1b6f94d6018eceac654d04f1eaf50533fff788"),
    (2, "c692746197ba32225e8a7dedf48e824ae8a09a1864a60eb5d6766671777dccb47a99cad749eb507da53d251f716e13d8"),
    (3, "aaf5aae5a4efc3bb0773e5057f0399152082c99b90fac40c7586d2bb69b698b87428ee85646ea84a7f0f059724d9d928"),
    (4, "d328a03665ad38228f03c31d37ce041fdba5358273d55961ff07e2f1298fd886fe81b2657eeb55d2cb72fb90f235d877"),
    (5, "832756411e3ad706ae9793fe06e9e57c55696f98d4de4c21c56c3b3802c90146022f58e1c0cd9a2721825cb76be45741"),
    (6, "965b03a7661fd01f2c9d975b2269f7122858d3898a5a66fc876d13ce4d45055129dc6eee8717864583738888efd2e275"),
    (7, "68fb86bcf7c417ae92535c87a73e8fa202ceb27f7ca962a6280057ab8fd1c51253213698640b7596472eab4abac9822c"),
    (8, "ed7b2491df8b6bafee2f0f5cce89b227de9a7bacdbec93cbea4c7e6fd99701b9821bcf98d2eb325940c1ef6205c7625a"),
    (9, "421fff36fde405939be67ce9c1d4bad068c183ff51c2a4ded1cbeaa5c802978ff45e6c9b90e1237da51354258e474b45"),
    (10, "5e837a0e68477a5285525ce4e02eb7b40f873d897f26716a06cee1cd932698079023ab8ef541fbdb8a8082a898189126"),
    (11, "1f1bbf75d82ea579ad7399cafc27c6754e94df2d15c41c04c3446a67841c4bf5f9f0d80454008859d184698e6a4133d8"),
    (12, "8606d09ffefd09b15078572ca9c515de1c2a17038c0afc86a960c9a29f1523b05affb67070885d59469311e9c0644823"),
    (13, "f49a03019bb857eb2a723e1a5bdab962aa2933ed2d2b99c13cac23b4c60d09e03d16c1d942ae3638e8b2ef9471fea9e5"),
    (14, "c5099ac3ab9361d300511fd80e3b74bb321e7a5b2af266f3ba200f9d6209b58e445dedf59b156d5a16edac6a9d434c38"),
    (15, "b729ac444811b4a41ca55bf0e5404f756552fa90169a99385dcfa7ce29d07eab0f8ce5cac93838d41f68676e0578a901"),
    (16, "0f96e52530af80610bf6762db75429bfb1fd9b77ae11ba6a7ea2ece8872259fe5571c391e96a1018b80dc25f1dae0bb2"),
    (17, "00c55ca3ce56d10903eb7ee60226f59ff68ddf1c01e0c81af43bbed0091ef2622644ca826efd7e9abfa8ab0f36398e4e"),
    (18, "5135c0ccce9f7e7a72d43aacdcd149ff10349ee60b6d44bfc23dcc55b6d9afb0b9e9964ec1c33fa275f7d43dfd6e1409"),
    (19, "9545da099b6af556dda6f5f5213f3d7f2506c953d7982f6307651a7a56a59b6688ee6c048e60fe1284b0584cb2cb6bb0"),
    (20, "089db85fddb58956b316ea645cf010b87ddc0a1d22151fae541cb02268f59e40e31374e53546fcf1030b1c6c9f85c2c2"),
    (21, "f1e75a93b13e16ce5d52bf8cd476203e79d76d53ee029e941c1f9c72e49babb707c3d4d1da1a207ac286d01992ca9038"),
    (22, "a9dfb56114be9ef385efdac58e05fc363b8e004424832ad536c80ba26f426955d4fcbfc0bfab7b0fc9a85fd1a58218a0"),
    (23, "dd9767dc357ffa14fdc6555b4a8dbc48394d654bce2de10b0748cf8ba7eac8dadc824ee67d20400e238d308d19a317a0"),
];
const SERVER_MIGRATIONS: usize = 23;

#[test]
fn no_committed_migration_changes() {
    let found: Vec<(i64, String)> = MIGRATOR.iter().map(|m| (m.version, hex::encode(&m.checksum))).collect();
    for (version, checksum) in COMMITTED {
        let now = found.iter().find(|(v, _)| *v == version).map(|(_, c)| c.as_str());
        assert_eq!(
            now,
            Some(checksum),
            "migration {version} changed (or went) after it was committed: a database that applied it would refuse \
             to start. Put it back and write a new migration for the change"
        );
    }
    assert_eq!(found.len(), COMMITTED.len(), "a new migration: pin its checksum in COMMITTED");
    // The edited text that databases may hold is the fixture the test below applies.
    let edited = std::fs::read(fixture()).unwrap();
    assert_eq!(hex::encode(sha2::Sha384::digest(&edited)), EDITED_MIGRATIONS[0].1);
}

fn fixture() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/0011_worker_role.edited.sql")
}

/// Migrates a new database with the committed migrations up to and including `last`, migration
/// 0011 replaced by `eleven`, as a server of that time did; then the way the server does now.
async fn migrate_from_then(last: i64, eleven: &Path) -> (Vec<(i64, Vec<u8>)>, sqlx::PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    for entry in std::fs::read_dir(&committed).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let version: i64 = name[..4].parse().unwrap();
        if version <= last {
            let from = if version == 11 { eleven.to_path_buf() } else { entry.path() };
            std::fs::copy(from, dir.path().join(&name)).unwrap();
        }
    }
    let then = sqlx::migrate::Migrator::new(dir.path()).await.unwrap();
    // As a server of that time did, without today's retry: another test's database may be
    // creating the cluster's shared roles at the same moment, so a lost race starts over on a
    // new database.
    let mut attempt = 0;
    let (db_url, admin) = loop {
        attempt += 1;
        let db_url = fresh_database().await;
        let admin = sqlx::PgPool::connect(&db_url).await.unwrap();
        match then.run(&admin).await {
            Ok(()) => break (db_url, admin),
            Err(e) if attempt < 5 => eprintln!("the earlier migrations lost a race for a shared role ({e}); again"),
            Err(e) => panic!("the earlier migrations failed {attempt} times: {e}"),
        }
    };
    let db = Db::connect(&DatabaseUrl::parse(&db_url).unwrap(), 2).await.unwrap();
    db.migrate().await.expect("a database migrated by an earlier server must migrate now");
    let applied = sqlx::query_as("SELECT version, checksum FROM _sqlx_migrations ORDER BY version")
        .fetch_all(&admin)
        .await
        .unwrap();
    (applied, admin)
}

#[tokio::test]
async fn databases_that_applied_0011_as_edited_or_as_committed_migrate() {
    let committed_eleven = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/0011_worker_role.sql");
    for (then, eleven, last) in [
        ("applied 0011 as first committed, before the edit", committed_eleven.as_path(), 11),
        ("applied 0011 as edited, up to 0022", fixture().as_path(), 22),
    ] {
        let (applied, admin) = migrate_from_then(last, eleven).await;
        let now: Vec<(i64, Vec<u8>)> = MIGRATOR.iter().map(|m| (m.version, m.checksum.to_vec())).collect();
        assert_eq!(applied, now, "{then}: every migration is recorded as committed");
        let worker: bool = sqlx::query_scalar("SELECT pg_has_role(current_user, 'resonance_worker', 'MEMBER')")
            .fetch_one(&admin)
            .await
            .unwrap();
        assert!(worker, "{then}: the worker's role exists and the owner may act as it");
    }
}

/// The SQL keeps its CHECK constraints; each holds exactly the values of the contract's enum
/// (their wire names), so a variant added on one side only fails here.
#[tokio::test]
async fn every_checked_column_holds_the_values_of_its_enum() {
    use resonance_api::footage::UploadPurpose;
    use resonance_api::model::{GenerationStatus, LogStatus, ProjectStatus, Role, SubscriptionStatus};
    fn wire<T: serde::Serialize>(values: impl IntoIterator<Item = T>) -> Vec<String> {
        let mut names: Vec<String> =
            values.into_iter().map(|v| serde_json::to_value(v).unwrap().as_str().unwrap().to_owned()).collect();
        names.sort();
        names
    }
    let s = TestServer::start().await;
    let cases = [
        ("projects", "status", wire(ProjectStatus::ALL)),
        ("generations", "status", wire(GenerationStatus::ALL)),
        ("organizations", "subscription_status", wire(SubscriptionStatus::ALL)),
        ("users", "role", wire(Role::ALL)),
        ("invitations", "role", wire(Role::ALL)),
        ("system_logs", "status", wire(LogStatus::ALL)),
        ("uploads", "purpose", wire([UploadPurpose::Audio, UploadPurpose::Footage])),
        ("uploads", "state", wire(resonance_api::uploads::TransferState::ALL)),
    ];
    for (table, column, want) in cases {
        let checks: Vec<String> = sqlx::query_scalar(
            "SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c
             WHERE c.conrelid = $1::regclass AND c.contype = 'c'",
        )
        .bind(format!("public.{table}"))
        .fetch_all(&s.owner)
        .await
        .unwrap();
        // Postgres shows `status IN (…)` as `(status = ANY (ARRAY['draft'::text, …]))`.
        let check = checks
            .iter()
            .find(|c| c.contains(&format!("({column} = ANY")))
            .unwrap_or_else(|| panic!("{table}.{column} has no CHECK listing its values: {checks:?}"));
        // The quoted values are every other piece between quotes.
        let mut held: Vec<String> =
            check.split('\'').enumerate().filter(|(i, _)| i % 2 == 1).map(|(_, v)| v.to_owned()).collect();
        held.sort();
        assert_eq!(held, want, "{table}.{column}: {check}");
    }
}
