fn main() {
    // embed_migrations! reads the folder at compile time.
    println!("cargo:rerun-if-changed=migrations");
}
