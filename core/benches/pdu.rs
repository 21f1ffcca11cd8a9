//! Criterion benchmarks of the PDU codec.
fn main() {}
