//! Moderator commands while the database is away: every command first checks that the database
//! answers within [`CHECK_TIMEOUT`] (Discord wants an answer to an interaction within 3 s, and
//! an unreachable database would otherwise hold the command for the pool's 30 s acquire
//! timeout), and a command that still meets a lost connection is answered the same way:
//! [`ANSWER`], never a raw driver error.

use std::time::Duration;

use sea_orm::{DatabaseConnection, DbErr, RuntimeErr};

/// How long the check before a command waits for the database.
pub const CHECK_TIMEOUT: Duration = Duration::from_millis(1500);

/// What a moderator is told when the database is away.
pub const ANSWER: &str = "Database unavailable: nothing was done. Try again in a minute; web chat goes on \
                          meanwhile and its messages are logged once the database is back.";

/// The database did not answer the check before a command.
#[derive(Debug, thiserror::Error)]
#[error("database unavailable: {0}")]
pub struct DatabaseUnavailable(pub String);

/// Check that the database answers, within [`CHECK_TIMEOUT`].
pub async fn check(db: &DatabaseConnection) -> Result<(), DatabaseUnavailable> {
    match tokio::time::timeout(CHECK_TIMEOUT, db.ping()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(DatabaseUnavailable(e.to_string())),
        Err(_) => Err(DatabaseUnavailable(format!("no answer within {CHECK_TIMEOUT:?}"))),
    }
}

/// Whether a database error means the database could not be reached (rather than a refused
/// statement).
fn is_connection_loss(e: &DbErr) -> bool {
    use sea_orm::sqlx::Error as Sqlx;
    match e {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            matches!(**e, Sqlx::Io(_) | Sqlx::PoolTimedOut | Sqlx::PoolClosed | Sqlx::WorkerCrashed | Sqlx::Tls(_))
        }
        _ => false,
    }
}

/// Whether `error` (or any error it wraps) says the database is away.
pub fn is_unavailable(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(e) = next {
        if e.is::<DatabaseUnavailable>() || e.downcast_ref::<DbErr>().is_some_and(is_connection_loss) {
            return true;
        }
        next = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot ban: {0}")]
    struct Wrapper(#[source] DbErr);

    #[test]
    fn lost_connections_are_told_apart_from_refused_statements() {
        let lost = DbErr::Query(RuntimeErr::SqlxError(Arc::new(sea_orm::sqlx::Error::PoolTimedOut)));
        assert!(is_unavailable(&Wrapper(lost)));
        assert!(is_unavailable(&DatabaseUnavailable("x".into())));
        let refused = DbErr::RecordNotFound("ban 7".into());
        assert!(!is_unavailable(&Wrapper(refused)));
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        let lost = DbErr::Exec(RuntimeErr::SqlxError(Arc::new(sea_orm::sqlx::Error::Io(io))));
        assert!(is_unavailable(&lost));
    }
}
