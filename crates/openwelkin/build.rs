// The demo designer folder is embedded with include_dir!, which cannot tell cargo to
// watch it; this does.
fn main() {
    println!("cargo:rerun-if-changed=../../designer/demo");
}
