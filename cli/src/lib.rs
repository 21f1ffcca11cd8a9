//! `dicomwire-cli`: the `dicomwire` command-line tool.
//!
//! It will provide `dicomwire serve` (a worklist and hanging-protocol SCP with embedded
//! sample data), and the SCU commands `echo`, `find`, `get` and `move`, plus `replay` for
//! captured traffic.
//!
//! Status: not built yet; the binary target `dicomwire` is added with the CLI issue.
