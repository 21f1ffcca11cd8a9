//! `dicomwire-std`: the blocking `std::net` transport for dicomwire.
//!
//! It will drive a [`dicomwire`] association over a `TcpStream`: an SCU that connects
//! with a timeout and reads with deadlines taken from the core's `poll_timeout`, and a
//! server that runs one thread per association under a limit on concurrent
//! associations. It makes no protocol decisions of its own; every decision stays in the
//! core.
//!
//! Status: not built yet. It arrives with the blocking-transport issue.
