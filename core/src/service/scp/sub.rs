//! C-MOVE sub-associations: the SCP opens one to the move destination for each C-MOVE
//! and asks the transport, through [`Scp::poll_connect`], to connect it; the transport then
//! moves its bytes and time ([`Scp::sub_association`]), says whether the connection came
//! up ([`Scp::sub_connected`], [`Scp::sub_connect_failed`]) and gives its events back
//! ([`Scp::handle_sub_events`]). Here the C-STORE-RSPs of the destination reach the
//! retrieve job, and a destination that rejects, aborts or goes away fails the rest.

use std::time::Instant;

use super::{ConnectRequest, Job, SUB_OPERATIONS_WINDOW, Scp, SubAssociationId};
use crate::dimse::{Message, MessageId, Status};
use crate::pdu::{AeTitle, AsyncOperationsWindow};
use crate::service::provider::Destination;
use crate::service::uids;
use crate::ul::{Association, AssociationRequest, ConfigError, Event, ProposedContext};

/// Where a sub-association is.
#[derive(Debug)]
pub(super) enum SubState {
    /// Waiting for the transport to connect it.
    Connecting,
    /// Connected; the A-ASSOCIATE-RQ is out.
    Associating,
    /// Established with a storage context we may use.
    Ready,
    /// Over before the job was; why, for the final response's Error Comment.
    Failed(String),
}

/// A C-MOVE sub-association and where it is.
pub(super) struct Sub {
    pub(super) id: SubAssociationId,
    pub(super) association: Association,
    pub(super) state: SubState,
    /// The transport connection is gone: the sub-association can be forgotten.
    pub(super) closed: bool,
}

impl Scp {
    /// A sub-association to the C-MOVE destination `ae` at `destination`, with the request
    /// to the transport to connect it. It proposes Hanging Protocol Storage as SCU, from
    /// our AE title on `main` to `ae`.
    pub(super) fn open_sub_association(
        &mut self,
        main: &Association,
        now: Instant,
        calling: AeTitle,
        ae: &str,
        destination: Destination,
    ) -> Result<Sub, ConfigError> {
        let local = main.negotiated().map_or_else(
            || AeTitle::new("DICOMWIRE").unwrap_or(calling),
            |n| n.called_ae_title,
        );
        let called = AeTitle::new(ae).unwrap_or(local);
        let mut request =
            AssociationRequest::new(local, called).with_context(ProposedContext::new(
                uids::HANGING_PROTOCOL_STORAGE,
                uids::uncompressed_transfer_syntaxes(),
            ));
        // We may keep several C-STOREs under way if the destination agrees.
        request.async_operations_window = Some(AsyncOperationsWindow {
            max_operations_invoked: SUB_OPERATIONS_WINDOW,
            max_operations_performed: 1,
        });
        let association =
            Association::requestor(now, self.handlers.sub_association_config.clone(), request)?;
        let id = SubAssociationId(self.next_sub);
        self.next_sub += 1;
        tracing::info!(destination = %ae, address = %destination, "opening C-MOVE sub-association");
        self.connects.push_back(ConnectRequest { id, destination });
        Ok(Sub {
            id,
            association,
            state: SubState::Connecting,
            closed: false,
        })
    }

    /// The next sub-association the transport should open a connection for.
    pub fn poll_connect(&mut self) -> Option<ConnectRequest> {
        self.connects.pop_front()
    }

    fn sub_mut(&mut self, id: SubAssociationId) -> Option<&mut Sub> {
        self.jobs
            .iter_mut()
            .filter_map(|j| match j {
                Job::Retrieve(r) => r.sub.as_mut(),
                Job::Find(_) => None,
            })
            .chain(self.finished_subs.iter_mut())
            .find(|s| s.id == id)
    }

    /// The sub-association `id`, for the transport to move its bytes and time.
    pub fn sub_association(&mut self, id: SubAssociationId) -> Option<&mut Association> {
        self.sub_mut(id).map(|s| &mut s.association)
    }

    /// The sub-association `id`, to look at.
    pub fn sub_association_ref(&self, id: SubAssociationId) -> Option<&Association> {
        self.jobs
            .iter()
            .filter_map(|j| match j {
                Job::Retrieve(r) => r.sub.as_ref(),
                Job::Find(_) => None,
            })
            .chain(self.finished_subs.iter())
            .find(|s| s.id == id)
            .map(|s| &s.association)
    }

    /// The ids of the open sub-associations.
    pub fn sub_association_ids(&self) -> Vec<SubAssociationId> {
        self.jobs
            .iter()
            .filter_map(|j| match j {
                Job::Retrieve(r) => r.sub.as_ref().map(|s| s.id),
                Job::Find(_) => None,
            })
            .chain(self.finished_subs.iter().map(|s| s.id))
            .collect()
    }

    /// The transport connected the sub-association.
    pub fn sub_connected(&mut self, id: SubAssociationId, now: Instant) {
        if let Some(sub) = self.sub_mut(id) {
            if sub.association.handle_transport_connected(now).is_ok() {
                sub.state = SubState::Associating;
            }
        }
    }

    /// The transport could not connect the sub-association.
    pub fn sub_connect_failed(&mut self, id: SubAssociationId, now: Instant, why: &str) {
        if let Some(sub) = self.sub_mut(id) {
            tracing::warn!(%why, "C-MOVE destination unreachable");
            sub.state = SubState::Failed(format!("destination unreachable: {why}"));
            let _ = sub.association.abort(now);
            sub.closed = true;
        }
        self.finished_subs.retain(|s| !(s.id == id && s.closed));
    }

    /// Drains the sub-association's events and acts on them; then advances the job.
    /// Returns false once the sub-association is over and can be forgotten.
    pub fn handle_sub_events(
        &mut self,
        main: &mut Association,
        id: SubAssociationId,
        now: Instant,
    ) -> bool {
        let mut store_results: Vec<(MessageId, Status)> = Vec::new();
        let mut alive = true;
        if let Some(sub) = self.sub_mut(id) {
            while let Some(event) = sub.association.poll_event() {
                match event {
                    Event::Established(n) => {
                        let usable = n.accepted().any(|c| n.local_is_scu(c));
                        sub.state = if usable {
                            SubState::Ready
                        } else {
                            tracing::info!(rejected = %n.rejected_summary(), "the move destination accepted no storage context");
                            SubState::Failed(refusal_comment(&n))
                        };
                    }
                    Event::Rejected(r) => sub.state = SubState::Failed(format!("destination {r}")),
                    Event::Aborted(a) => {
                        if matches!(
                            sub.state,
                            SubState::Ready | SubState::Connecting | SubState::Associating
                        ) {
                            sub.state = SubState::Failed(a.to_string());
                        }
                    }
                    Event::Message(m) => {
                        if let Message::CStoreRsp(rsp) = m.message {
                            store_results.push((rsp.message_id_being_responded_to, rsp.status));
                        }
                    }
                    Event::ReleaseRequested { .. } => {
                        let _ = sub.association.release_response(now);
                    }
                    Event::Closed => {
                        sub.closed = true;
                        alive = false;
                        if matches!(
                            sub.state,
                            SubState::Ready | SubState::Connecting | SubState::Associating
                        ) {
                            sub.state =
                                SubState::Failed("the destination closed the connection".into());
                        }
                    }
                    _ => {}
                }
            }
        }
        if let Some(Job::Retrieve(job)) = self.jobs.front_mut() {
            if job.sub.as_ref().is_some_and(|s| s.id == id) {
                for (message_id, status) in store_results {
                    job.store_finished(main, now, message_id, status);
                }
            }
        }
        // A sub-association that dies with stores outstanding fails those sub-operations.
        if let Some(Job::Retrieve(job)) = self.jobs.front_mut() {
            if job
                .sub
                .as_ref()
                .is_some_and(|s| s.id == id && matches!(s.state, SubState::Failed(_)))
            {
                for (_, uid) in std::mem::take(&mut job.awaiting) {
                    job.fail_one(Some(uid));
                }
            }
        }
        self.finished_subs.retain(|s| !s.closed);
        self.poll(main, now);
        alive
    }
}

/// Why a move destination can take no instance, most useful words first (an Error
/// Comment holds 64 characters): what it refused, then which SOP classes.
fn refusal_comment(n: &crate::ul::Negotiated) -> String {
    use crate::pdu::PresentationContextResult as R;
    let what = match n
        .contexts
        .iter()
        .map(|c| c.result)
        .find(|r| *r != R::Acceptance)
    {
        Some(R::AbstractSyntaxNotSupported) => "destination refused SOP class",
        Some(R::TransferSyntaxesNotSupported) => "destination refused transfer syntaxes of",
        Some(_) => "destination refused storage of",
        None => "destination gave us no SCU role for",
    };
    let classes: Vec<&str> = n
        .contexts
        .iter()
        .map(|c| c.abstract_syntax.as_str())
        .collect();
    format!("{what} {}", classes.join(" "))
}
