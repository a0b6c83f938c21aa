//! Store errors: classified by SQLSTATE (with the two documented exceptions), checked on
//! errors made up here and on errors a real PostgreSQL raises, and answered with the
//! resource they are about.

use diesel::result::{DatabaseErrorKind as Kind, Error as DieselError};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use futures::future::{Either, select};

use super::super::store::codes;
use super::*;

fn database_error(kind: Kind, message: &str) -> DieselError {
    DieselError::DatabaseError(kind, Box::new(message.to_owned()))
}

#[test]
fn database_errors_are_classified_by_their_code() {
    let unique = StoreError::from(database_error(Kind::UniqueViolation, "dup"));
    assert!(
        matches!(&unique, StoreError::UniqueViolation { constraint } if constraint == "unknown"),
        "{unique:?}"
    );
    assert!(matches!(
        StoreError::from(database_error(Kind::ForeignKeyViolation, "")),
        StoreError::ForeignKeyViolation { .. }
    ));
    assert!(matches!(
        StoreError::from(database_error(Kind::CheckViolation, "")),
        StoreError::CheckViolation { .. }
    ));
    assert!(matches!(
        StoreError::from(database_error(Kind::SerializationFailure, "")),
        StoreError::SerializationFailure
    ));
    assert!(matches!(
        StoreError::from(database_error(Kind::ClosedConnection, "gone")),
        StoreError::Unavailable(message) if message == "gone"
    ));
    assert!(matches!(
        StoreError::from(DieselError::NotFound),
        StoreError::NotFound
    ));
    // A unique violation is one whatever its message says, in any language.
    let translated = database_error(Kind::UniqueViolation, "doppelter Schlüsselwert");
    assert_eq!(sqlstate(&translated), Some(codes::UNIQUE_VIOLATION));
    for kind in [
        Kind::NotNullViolation,
        Kind::ReadOnlyTransaction,
        Kind::Unknown,
    ] {
        assert!(matches!(
            StoreError::from(database_error(kind, "something")),
            StoreError::Other(_)
        ));
    }
    assert_eq!(sqlstate(&DieselError::NotFound), None);
    assert_eq!(
        sqlstate(&database_error(Kind::Unknown, "syntax error")),
        None
    );
}

#[test]
fn deadlocks_and_lock_timeouts_are_known_by_their_one_message() {
    let deadlock = database_error(Kind::Unknown, "deadlock detected");
    assert_eq!(sqlstate(&deadlock), Some(codes::DEADLOCK_DETECTED));
    assert!(matches!(
        StoreError::from(deadlock),
        StoreError::SerializationFailure
    ));
    let timeout = database_error(Kind::Unknown, "canceling statement due to lock timeout");
    assert_eq!(sqlstate(&timeout), Some(codes::LOCK_NOT_AVAILABLE));
    assert!(matches!(
        StoreError::from(timeout),
        StoreError::Unavailable(message) if message == "waited too long for a lock"
    ));
    // A constraint violation is classified by its kind, never by its text.
    let unique = database_error(Kind::UniqueViolation, "deadlock detected");
    assert_eq!(sqlstate(&unique), Some(codes::UNIQUE_VIOLATION));
}

#[test]
fn the_answer_names_the_resource_and_id() {
    let (code, message, details) = answer(StoreError::NotFound.into_api("klip", 42));
    assert_eq!(
        (code, message.as_str()),
        (Code::NotFound, "klip 42 not found")
    );
    let resource = details.resource_info().expect("ResourceInfo");
    assert_eq!(
        (
            resource.resource_type.as_str(),
            resource.resource_name.as_str()
        ),
        ("klip", "42")
    );

    let unique = StoreError::UniqueViolation {
        constraint: "klips_account_id_name_key".into(),
    };
    let (code, message, details) = answer(unique.into_api("klip", "Sales"));
    assert_eq!(
        (code, message.as_str()),
        (Code::AlreadyExists, "klip Sales already exists")
    );
    assert!(!format!("{details:?}").contains("klips_"), "{details:?}");

    let found: Result<u8, StoreError> = Err(StoreError::NotFound);
    let error = found.about("dashboard", "d-1").expect_err("not found");
    assert_eq!(error.to_string(), "dashboard d-1 not found");
    assert_eq!(
        Ok::<_, StoreError>(3).about("dashboard", "d-1").ok(),
        Some(3)
    );

    // Without a resource, the same codes with generic names.
    assert_eq!(
        ApiError::from(StoreError::NotFound).to_string(),
        "resource not found"
    );
    let others = [
        (StoreError::SerializationFailure, Code::Aborted),
        (StoreError::Unavailable("pool".into()), Code::Unavailable),
        (
            StoreError::ForeignKeyViolation {
                constraint: "fk".into(),
            },
            Code::Internal,
        ),
        (
            StoreError::Other(DieselError::RollbackTransaction),
            Code::Internal,
        ),
    ];
    for (error, code) in others {
        let described = format!("{error:?}");
        assert_eq!(error.into_api("klip", 1).code(), code, "{described}");
    }
}

/// A connection to the test server (`TRELLIS_TEST_DATABASE_URL`); the tests below use only
/// temporary tables and advisory locks, so any database of it serves.
async fn connect() -> AsyncPgConnection {
    let url = std::env::var("TRELLIS_TEST_DATABASE_URL")
        .ok()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    AsyncPgConnection::establish(&url)
        .await
        .unwrap_or_else(|error| panic!("PostgreSQL at {url}: {error}"))
}

/// An advisory lock key of this test alone, so parallel runs do not meet.
fn lock_key() -> i64 {
    (uuid::Uuid::new_v4().as_u64_pair().0 >> 1) as i64
}

async fn run(conn: &mut AsyncPgConnection, sql: &str) -> Result<usize, DieselError> {
    diesel::sql_query(sql).execute(conn).await
}

#[tokio::test]
async fn postgresql_constraint_violations_are_classified() {
    let mut conn = connect().await;
    conn.batch_execute(
        "CREATE TEMP TABLE parents (id int PRIMARY KEY);
         CREATE TEMP TABLE children (id int PRIMARY KEY CHECK (id > 0),
                                     parent int REFERENCES parents (id));
         INSERT INTO parents VALUES (1);",
    )
    .await
    .expect("temporary tables");
    let error = run(&mut conn, "INSERT INTO parents VALUES (1)")
        .await
        .expect_err("dup");
    assert!(
        matches!(StoreError::from(error), StoreError::UniqueViolation { constraint } if constraint == "parents_pkey")
    );
    let error = run(&mut conn, "INSERT INTO children VALUES (1, 2)")
        .await
        .expect_err("fk");
    assert!(matches!(
        StoreError::from(error),
        StoreError::ForeignKeyViolation { constraint } if constraint == "children_parent_fkey"
    ));
    let error = run(&mut conn, "INSERT INTO children VALUES (-1, 1)")
        .await
        .expect_err("check");
    assert!(matches!(
        StoreError::from(error),
        StoreError::CheckViolation { constraint } if constraint == "children_id_check"
    ));
}

#[tokio::test]
async fn a_postgresql_lock_timeout_is_unavailable() {
    let key = lock_key();
    let mut holder = connect().await;
    let mut waiter = connect().await;
    run(&mut holder, &format!("SELECT pg_advisory_lock({key})"))
        .await
        .expect("locked");
    let error = waiter
        .transaction::<(), DieselError, _>(async |conn| {
            run(conn, "SET LOCAL lock_timeout = 20").await?;
            run(conn, &format!("SELECT pg_advisory_lock({key})")).await?;
            Ok(())
        })
        .await
        .expect_err("the lock is held");
    assert_eq!(sqlstate(&error), Some(codes::LOCK_NOT_AVAILABLE), "{error}");
    assert!(matches!(
        StoreError::from(error),
        StoreError::Unavailable(_)
    ));
}

#[tokio::test]
async fn a_postgresql_deadlock_is_a_serialization_failure() {
    let (first, second) = (lock_key(), lock_key());
    let mut one = connect().await;
    let mut two = connect().await;
    run(&mut one, &format!("SELECT pg_advisory_lock({first})"))
        .await
        .expect("first");
    run(&mut two, &format!("SELECT pg_advisory_lock({second})"))
        .await
        .expect("second");
    // Each now waits for the other's lock; PostgreSQL ends one of the two waits, whose
    // connection then lets its lock go so the other wait ends too.
    let waits = select(
        Box::pin(lock_on(one, second)),
        Box::pin(lock_on(two, first)),
    );
    let ((mut conn, ended), other) = match waits.await {
        Either::Left(outcome) | Either::Right(outcome) => outcome,
    };
    let error = ended.expect_err("the wait PostgreSQL ended");
    run(&mut conn, "SELECT pg_advisory_unlock_all()")
        .await
        .expect("unlocked");
    let (_, taken) = other.await;
    taken.expect("the other wait then ends with the lock");
    assert_eq!(sqlstate(&error), Some(codes::DEADLOCK_DETECTED), "{error}");
    assert!(matches!(
        StoreError::from(error),
        StoreError::SerializationFailure
    ));
}

/// Waits for the advisory lock `key` on `conn`, and gives the connection back.
async fn lock_on(
    mut conn: AsyncPgConnection,
    key: i64,
) -> (AsyncPgConnection, Result<usize, DieselError>) {
    let taken = run(&mut conn, &format!("SELECT pg_advisory_lock({key})")).await;
    (conn, taken)
}
