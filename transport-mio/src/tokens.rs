//! What a `mio` token stands for: the kind of socket and its key in that kind's table.

use mio::Token;

/// The waker's token, which no slot ever has.
pub(crate) const WAKER: Token = Token(usize::MAX);

/// A socket of the loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    /// A listening socket.
    Listener(usize),
    /// An accepted connection (its main link).
    Conn(usize),
    /// A C-MOVE sub-association's socket (key in the table of sub-association slots).
    Sub(usize),
    /// An outgoing client association.
    Client(usize),
}

impl Slot {
    /// The token this slot's socket is registered under.
    pub(crate) fn token(self) -> Token {
        match self {
            Self::Listener(k) => Token(4 * k),
            Self::Conn(k) => Token(4 * k + 1),
            Self::Sub(k) => Token(4 * k + 2),
            Self::Client(k) => Token(4 * k + 3),
        }
    }

    /// The slot of `token`; `None` for the waker's.
    pub(crate) fn of(token: Token) -> Option<Self> {
        if token == WAKER {
            return None;
        }
        let key = token.0 / 4;
        Some(match token.0 % 4 {
            0 => Self::Listener(key),
            1 => Self::Conn(key),
            2 => Self::Sub(key),
            _ => Self::Client(key),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_never_meet_the_waker() {
        for key in [0, 1, 2, 1000, usize::MAX / 4 - 1] {
            for slot in [
                Slot::Listener(key),
                Slot::Conn(key),
                Slot::Sub(key),
                Slot::Client(key),
            ] {
                assert_ne!(slot.token(), WAKER);
                assert_eq!(Slot::of(slot.token()), Some(slot));
            }
        }
        assert_eq!(Slot::of(WAKER), None);
    }
}
