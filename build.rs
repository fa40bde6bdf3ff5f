//! Build script: tells cargo that the crate depends on `migrations/`.
//!
//! `sqlx::migrate!` embeds the migration files when `src/store/sqlite.rs` compiles, but cargo
//! does not know about them: without this, adding a migration (or merging one in) left an
//! incremental build with the old list, and the binary refused a state file a newer build had
//! migrated ("migration N was previously applied but is missing").
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
