//! Rebuilds the app when a migration is added or changed, because
//! `sqlx::migrate!` embeds migrations/ at compile time.

fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
