//! `dicomwire-mio`: a `mio` event-loop transport for dicomwire.
//!
//! It will let one `mio::Poll` thread drive thousands of associations: interest follows
//! the core's wants, the poll timeout is the earliest deadline of all associations, and
//! C-MOVE sub-associations are registered in the same loop. Like the blocking transport
//! it makes no protocol decisions of its own.
//!
//! Status: not built yet. It arrives with the mio-transport issue.
