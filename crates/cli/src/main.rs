//! The `facegate` binary: a thin front over the `face` and `server` crates.

fn main() {}
