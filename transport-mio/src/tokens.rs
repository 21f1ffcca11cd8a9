//! What a `mio` token stands for: the kind of socket and its key in that kind's table.

use mio::Token;

/// The waker's token, which no slot ever has.
pub(crate) const WAKER: Token = Token(usize::MAX);

/// A socket of the loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    /// A listening socket.
    Listener(usize),
    /// A session's main link: an accepted connection, or a client association.
    Session(usize),
    /// A C-MOVE sub-association's socket (key in the table of sub-association slots).
    Sub(usize),
}

impl Slot {
    /// The token this slot's socket is registered under.
    pub(crate) fn token(self) -> Token {
        match self {
            Self::Listener(k) => Token(3 * k),
            Self::Session(k) => Token(3 * k + 1),
            Self::Sub(k) => Token(3 * k + 2),
        }
    }

    /// The slot of `token`; `None` for the waker's.
    pub(crate) fn of(token: Token) -> Option<Self> {
        if token == WAKER {
            return None;
        }
        let key = token.0 / 3;
        Some(match token.0 % 3 {
            0 => Self::Listener(key),
            1 => Self::Session(key),
            _ => Self::Sub(key),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_never_meet_the_waker() {
        for key in [0, 1, 2, 1000, usize::MAX / 3 - 1] {
            for slot in [Slot::Listener(key), Slot::Session(key), Slot::Sub(key)] {
                assert_ne!(slot.token(), WAKER);
                assert_eq!(Slot::of(slot.token()), Some(slot));
            }
        }
        assert_eq!(Slot::of(WAKER), None);
    }
}
