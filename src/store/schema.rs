//! Whether a state's schema is the one this release writes: for operator commands that change
//! rows without migrating (`deliveries retry`, `deliveries purge`).
//!
//! Owns [`same_as_this_release`]; the stores read their applied migrations and call it. A
//! state a newer release migrated holds rows this one would treat by older rules (a note
//! revived as never attempted); a state older than this release lacks the marks its rules
//! read. Either way the command refuses and says which release to use, or to migrate first.

use sqlx::migrate::Migrator;

use super::StoreError;

/// `applied`: the versions the state's migration table lists, each with whether it finished.
pub(crate) fn same_as_this_release(
    applied: &[(i64, bool)],
    this: &Migrator,
) -> Result<(), StoreError> {
    // One that did not finish: the daemon refuses such a state too (sqlx calls it dirty).
    if let Some(&(unfinished, _)) = applied.iter().find(|(_, done)| !done) {
        return Err(StoreError::UnfinishedMigration {
            version: unfinished,
        });
    }
    let applied: Vec<i64> = applied.iter().map(|(v, _)| *v).collect();
    let known: Vec<i64> = this.iter().map(|m| m.version).collect();
    if let Some(&newer) = applied.iter().find(|v| !known.contains(v)) {
        return Err(StoreError::NewerSchema { version: newer });
    }
    if let Some(&missing) = known.iter().find(|v| !applied.contains(v)) {
        return Err(StoreError::OlderSchema { version: missing });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    static SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");

    #[test]
    fn a_state_of_another_release_is_named_newer_or_older() {
        let all: Vec<(i64, bool)> = SQLITE.iter().map(|m| (m.version, true)).collect();
        assert!(same_as_this_release(&all, &SQLITE).is_ok());
        let mut newer = all.clone();
        newer.push((9_999, true));
        let e = same_as_this_release(&newer, &SQLITE).unwrap_err();
        assert!(
            e.to_string()
                .contains("written by a newer newswatch release (its migration 9999"),
            "{e}"
        );
        let older = &all[..all.len() - 1];
        let e = same_as_this_release(older, &SQLITE).unwrap_err();
        let last = all[all.len() - 1].0;
        assert!(
            e.to_string().contains(&format!(
                "older than this release (migration {last} not applied): restart the daemon, or run `newswatch migrate` while it is stopped"
            )),
            "{e}"
        );
        // A migration that did not finish, this release's or a newer one's, is said as such
        // (counted as not applied, a newer one's let the command go on).
        for unfinished in [last, 9_999] {
            let mut dirty = all.clone();
            dirty.retain(|(v, _)| *v != unfinished);
            dirty.push((unfinished, false));
            let e = same_as_this_release(&dirty, &SQLITE).unwrap_err();
            assert!(
                e.to_string().contains(&format!(
                    "the state's migration {unfinished} did not finish"
                )),
                "{e}"
            );
        }
    }
}
