//! Criterion benchmark of one association with one C-ECHO, end to end: open, C-ECHO,
//! release, through the core pair in memory (no sockets), and over loopback TCP against
//! the std (thread per association) and mio (one event loop) servers.
//!
//! `cargo bench -p dicomwire-bench --bench echo`

fn main() {}
