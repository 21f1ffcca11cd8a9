//! Outstanding operations in both directions, message ID allocation, and the negotiated
//! asynchronous operations window (PS3.7 D.3.3.3).

use std::collections::HashMap;

use super::message::{CommandField, MessageId};
use crate::pdu::PresentationContextId;

/// An operation that has not had its final response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Outstanding {
    pub(crate) context_id: PresentationContextId,
    pub(crate) command: CommandField,
}

/// Requests we invoked and requests we perform, until their final responses.
#[derive(Debug, Default)]
pub(crate) struct Operations {
    invoked: HashMap<MessageId, Outstanding>,
    performing: HashMap<MessageId, Outstanding>,
    last_id: MessageId,
}

impl Operations {
    /// The next free message ID: 1, 2 … 65535, then 1 again, skipping IDs still in use.
    pub(crate) fn next_id(&mut self) -> MessageId {
        loop {
            self.last_id = if self.last_id == MessageId::MAX {
                1
            } else {
                self.last_id + 1
            };
            if !self.invoked.contains_key(&self.last_id) {
                return self.last_id;
            }
        }
    }

    /// Whether a request we invoked still holds `id`.
    pub(crate) fn is_invoked(&self, id: MessageId) -> bool {
        self.invoked.contains_key(&id)
    }

    pub(crate) fn invoked_count(&self) -> usize {
        self.invoked.len()
    }

    pub(crate) fn performing_count(&self) -> usize {
        self.performing.len()
    }

    pub(crate) fn invoke(&mut self, id: MessageId, op: Outstanding) {
        self.invoked.insert(id, op);
    }

    pub(crate) fn invoked(&self, id: MessageId) -> Option<Outstanding> {
        self.invoked.get(&id).copied()
    }

    pub(crate) fn complete_invoked(&mut self, id: MessageId) {
        self.invoked.remove(&id);
    }

    /// Records a request to perform; false if its ID is already being performed.
    pub(crate) fn perform(&mut self, id: MessageId, op: Outstanding) -> bool {
        if self.performing.contains_key(&id) {
            return false;
        }
        self.performing.insert(id, op);
        true
    }

    pub(crate) fn performing(&self, id: MessageId) -> Option<Outstanding> {
        self.performing.get(&id).copied()
    }

    pub(crate) fn complete_performing(&mut self, id: MessageId) {
        self.performing.remove(&id);
    }
}

/// Whether one more operation fits a window value (0 means unlimited).
pub(crate) fn fits(outstanding: usize, window: u16) -> bool {
    window == 0 || outstanding < usize::from(window)
}
