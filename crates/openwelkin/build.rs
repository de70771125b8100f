// The demo designer folder and the schema migrations are embedded with include_dir!,
// which cannot tell cargo to watch them; this does.
fn main() {
    println!("cargo:rerun-if-changed=../../designer/demo");
    println!("cargo:rerun-if-changed=migrations");
}
