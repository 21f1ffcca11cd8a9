//! Association negotiation: what a requestor proposes, what an acceptor's policy grants,
//! and the negotiated result both sides work with (PS3.8 7.1, Annex D; PS3.7 Annex D.3).

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use thiserror::Error;

use crate::dimse::{self, DimseConfig};
use crate::registry as storage;

use crate::pdu::{
    AeTitle, AssociateAc, AssociateRj, AssociateRq, AsyncOperationsWindow,
    DEFAULT_MAX_ASSOCIATE_LENGTH, DEFAULT_MAX_PDU_LENGTH, DICOM_APPLICATION_CONTEXT, DecodeLimits,
    EncodeError, MIN_MAX_PDU_LENGTH, PROTOCOL_VERSION, PresentationContextAc,
    PresentationContextId, PresentationContextResult, PresentationContextRq, RejectResult,
    RejectSource, RoleSelection, SopClassCommonExtendedNegotiation, SopClassExtendedNegotiation,
    Uid, UserIdentityRequest, UserIdentityResponse, UserInformation,
};

/// dicomwire's implementation class UID (a UUID-derived `2.25` UID, PS3.5 B.2).
pub const IMPLEMENTATION_CLASS_UID: Uid =
    Uid::from_static("2.25.259013184634146317263412683577043391001");

/// dicomwire's implementation version name.
pub const IMPLEMENTATION_VERSION_NAME: &str = "DICOMWIRE_010";

/// The most presentation contexts one association can propose: ids are odd, 1 to 255.
pub const MAX_PRESENTATION_CONTEXTS: usize = 128;

/// Settings every association has, in either role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssociationConfig {
    /// The largest P-DATA-TF we accept, announced to the peer in item 0x51. Also the bound
    /// on what we buffer for one incoming P-DATA-TF.
    pub max_pdu_length: u32,
    /// The largest P-DATA-TF we send when the peer announces no limit (0), and a cap on
    /// what we send in any case, since a PDU is built whole in the caller's buffer.
    pub max_send_pdu_length: u32,
    /// The largest A-ASSOCIATE-RQ/AC we accept.
    pub max_associate_length: u32,
    /// ARTIM (PS3.8 9.1.5): how long an acceptor waits for an A-ASSOCIATE-RQ, and how long
    /// either side waits for the transport to close after the association ended.
    pub artim_timeout: Duration,
    /// How long a requestor waits for the A-ASSOCIATE-AC or -RJ before aborting.
    pub associate_timeout: Duration,
    /// How long we wait for the A-RELEASE-RP after our A-RELEASE-RQ before aborting.
    pub release_timeout: Duration,
    /// How long a requestor's transport connection may take to open.
    pub connect_timeout: Duration,
    /// How long we wait for a response to a request we invoked (since the request, or
    /// since the last byte received) before aborting; `None`: for ever.
    pub dimse_timeout: Option<Duration>,
    /// How long an established association with nothing outstanding may go without
    /// receiving anything (the acceptor then aborts, the requestor releases); also how
    /// long one PDU may take to arrive once it started, and how long the peer may take
    /// none of what we send. `None`: for ever. See [`Timer`](super::Timer).
    pub idle_timeout: Option<Duration>,
    /// Our implementation class UID (item 0x52).
    pub implementation_class_uid: Uid,
    /// Our implementation version name (item 0x55), 1 to 16 characters.
    pub implementation_version_name: Option<String>,
    /// Limits and modes of the DIMSE layer.
    pub dimse: DimseConfig,
}

impl Default for AssociationConfig {
    fn default() -> Self {
        Self {
            max_pdu_length: DEFAULT_MAX_PDU_LENGTH,
            max_send_pdu_length: 1024 * 1024,
            max_associate_length: DEFAULT_MAX_ASSOCIATE_LENGTH,
            artim_timeout: Duration::from_secs(30),
            associate_timeout: Duration::from_secs(30),
            release_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            dimse_timeout: Some(Duration::from_secs(60)),
            idle_timeout: Some(Duration::from_secs(60)),
            implementation_class_uid: IMPLEMENTATION_CLASS_UID,
            implementation_version_name: Some(IMPLEMENTATION_VERSION_NAME.to_owned()),
            dimse: DimseConfig::default(),
        }
    }
}

impl AssociationConfig {
    pub(crate) fn decode_limits(&self) -> DecodeLimits {
        DecodeLimits {
            max_pdu_length: self.max_pdu_length,
            max_associate_length: self.max_associate_length,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.max_pdu_length < MIN_MAX_PDU_LENGTH {
            return Err(ConfigError::MaxPduTooSmall(self.max_pdu_length));
        }
        if self.max_send_pdu_length < MIN_MAX_PDU_LENGTH {
            return Err(ConfigError::MaxPduTooSmall(self.max_send_pdu_length));
        }
        Ok(())
    }

    fn user_information(&self) -> UserInformation {
        let mut ui =
            UserInformation::new(self.max_pdu_length, self.implementation_class_uid.clone());
        ui.implementation_version_name = self.implementation_version_name.clone();
        ui
    }

    /// The P-DATA-TF length we may send to a peer that announced `peer_max` (0 = no limit).
    ///
    /// A peer announcing less than a PDV header and one byte cannot receive anything; we
    /// treat that as the smallest workable length rather than fail.
    pub fn send_limit(&self, peer_max: u32) -> u32 {
        if peer_max == 0 {
            self.max_send_pdu_length
        } else {
            peer_max.clamp(
                MIN_MAX_PDU_LENGTH,
                self.max_send_pdu_length.max(MIN_MAX_PDU_LENGTH),
            )
        }
    }
}

/// A configuration or proposal the core cannot work with.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A maximum PDU length too small to carry any fragment.
    #[error("maximum PDU length {0} is too small: a P-DATA-TF needs at least {MIN_MAX_PDU_LENGTH}")]
    MaxPduTooSmall(u32),
    /// No presentation context proposed.
    #[error("an association request needs at least one presentation context")]
    NoPresentationContext,
    /// More than 128 presentation contexts.
    #[error("{0} presentation contexts proposed; ids are odd numbers 1-255, so at most 128")]
    TooManyPresentationContexts(usize),
    /// A proposed presentation context without a transfer syntax.
    #[error("presentation context for {0} proposes no transfer syntax")]
    NoTransferSyntax(Uid),
    /// The A-ASSOCIATE-RQ cannot be encoded (an item over 65535 bytes …).
    #[error("the A-ASSOCIATE-RQ cannot be encoded: {0}")]
    Encode(#[from] EncodeError),
}

/// A presentation context a requestor proposes: an abstract syntax and its transfer
/// syntaxes in our order of preference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposedContext {
    /// The SOP class.
    pub abstract_syntax: Uid,
    /// Transfer syntaxes, preferred first.
    pub transfer_syntaxes: Vec<Uid>,
}

impl ProposedContext {
    /// A context for `abstract_syntax` with `transfer_syntaxes`.
    pub fn new(abstract_syntax: Uid, transfer_syntaxes: Vec<Uid>) -> Self {
        Self {
            abstract_syntax,
            transfer_syntaxes,
        }
    }
}

/// Everything a requestor proposes (the A-ASSOCIATE request primitive's parameters).
///
/// ```
/// use dicomwire::pdu::{AeTitle, Uid};
/// use dicomwire::ul::{AssociationRequest, ProposedContext};
/// let verification = Uid::new("1.2.840.10008.1.1").unwrap();
/// let implicit_le = Uid::new("1.2.840.10008.1.2").unwrap();
/// let request = AssociationRequest::new(AeTitle::new("ME").unwrap(), AeTitle::new("THEM").unwrap())
///     .with_context(ProposedContext::new(verification, vec![implicit_le]));
/// assert_eq!(request.contexts.len(), 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssociationRequest {
    /// Our AE title.
    pub calling_ae_title: AeTitle,
    /// The peer's AE title.
    pub called_ae_title: AeTitle,
    /// Presentation contexts, given ids 1, 3, 5 … in this order.
    pub contexts: Vec<ProposedContext>,
    /// SCP/SCU role selection proposals, one per SOP class.
    pub role_selections: Vec<RoleSelection>,
    /// SOP class extended negotiation.
    pub sop_class_extended: Vec<SopClassExtendedNegotiation>,
    /// SOP class common extended negotiation.
    pub sop_class_common_extended: Vec<SopClassCommonExtendedNegotiation>,
    /// User identity, if any.
    pub user_identity: Option<UserIdentityRequest>,
    /// Asynchronous operations window to propose; `None` proposes nothing (1 and 1).
    pub async_operations_window: Option<AsyncOperationsWindow>,
}

impl AssociationRequest {
    /// A request from `calling` to `called` with nothing proposed yet.
    pub fn new(calling: AeTitle, called: AeTitle) -> Self {
        Self {
            calling_ae_title: calling,
            called_ae_title: called,
            contexts: Vec::new(),
            role_selections: Vec::new(),
            sop_class_extended: Vec::new(),
            sop_class_common_extended: Vec::new(),
            user_identity: None,
            async_operations_window: None,
        }
    }

    /// Adds a presentation context.
    pub fn with_context(mut self, context: ProposedContext) -> Self {
        self.contexts.push(context);
        self
    }

    /// Proposes roles for a SOP class (for C-GET: `scu = false, scp = true` on the storage
    /// SOP classes to receive).
    pub fn with_role(mut self, sop_class_uid: Uid, scu_role: bool, scp_role: bool) -> Self {
        self.role_selections.push(RoleSelection {
            sop_class_uid,
            scu_role,
            scp_role,
        });
        self
    }

    /// Builds the A-ASSOCIATE-RQ PDU, checking the rules of PS3.8 9.3.2.
    pub(crate) fn to_pdu(&self, config: &AssociationConfig) -> Result<AssociateRq, ConfigError> {
        if self.contexts.is_empty() {
            return Err(ConfigError::NoPresentationContext);
        }
        if self.contexts.len() > MAX_PRESENTATION_CONTEXTS {
            return Err(ConfigError::TooManyPresentationContexts(
                self.contexts.len(),
            ));
        }
        let mut presentation_contexts = Vec::with_capacity(self.contexts.len());
        for (n, ctx) in (0u8..).zip(&self.contexts) {
            if ctx.transfer_syntaxes.is_empty() {
                return Err(ConfigError::NoTransferSyntax(ctx.abstract_syntax.clone()));
            }
            presentation_contexts.push(PresentationContextRq {
                id: context_id_for_index(n),
                abstract_syntax: ctx.abstract_syntax.clone(),
                transfer_syntaxes: ctx.transfer_syntaxes.clone(),
                unknown_sub_items: Vec::new(),
            });
        }
        let mut ui = config.user_information();
        ui.async_operations_window = self.async_operations_window;
        ui.role_selections = self.role_selections.clone();
        ui.sop_class_extended = self.sop_class_extended.clone();
        ui.sop_class_common_extended = self.sop_class_common_extended.clone();
        ui.user_identity_request = self.user_identity.clone();
        let rq = AssociateRq {
            protocol_version: PROTOCOL_VERSION,
            called_ae_title: self.called_ae_title,
            calling_ae_title: self.calling_ae_title,
            application_context: DICOM_APPLICATION_CONTEXT,
            presentation_contexts,
            user_information: ui,
            unknown_items: Vec::new(),
        };
        crate::pdu::Pdu::AssociateRq(Box::new(rq.clone())).encode(&mut Vec::new())?;
        Ok(rq)
    }
}

fn context_id_for_index(n: u8) -> PresentationContextId {
    // n < 128, so 2n + 1 is odd and at most 255.
    PresentationContextId::new(n.wrapping_mul(2).wrapping_add(1)).unwrap_or_else(|| unreachable!())
}

/// Who may call us, and which abstract syntaxes, transfer syntaxes and roles we grant.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AcceptorPolicy {
    /// Called AE titles we answer to; empty accepts any.
    pub called_ae_titles: Vec<AeTitle>,
    /// Calling AE titles allowed; empty allows any.
    pub calling_ae_titles: Vec<AeTitle>,
    /// Abstract syntaxes we support.
    pub abstract_syntaxes: Vec<SupportedSyntax>,
    /// The asynchronous operations window we can handle; our reply never exceeds the
    /// proposal. `None` replies nothing, which means 1 and 1.
    pub async_operations_window: Option<AsyncOperationsWindow>,
    /// Answer an A-ASSOCIATE-AC even when no proposed presentation context is acceptable
    /// (every context rejected). By default such a request gets an A-ASSOCIATE-RJ
    /// (permanent, service-user, no-reason-given), which every client understands; some
    /// send on a rejected context after an AC and hang.
    pub accept_with_no_context: bool,
    /// Accept every storage SOP class of the standard (the SOP class registry of
    /// `dicom-dictionary-std`, see [`is_storage_sop_class`]) that `abstract_syntaxes`
    /// does not name, in the first transfer syntax the requestor proposes that can be
    /// stored as received ([`is_storable_transfer_syntax`]), with these roles. `None`
    /// accepts only what `abstract_syntaxes` names.
    ///
    /// [`is_storage_sop_class`]: crate::registry::is_storage_sop_class
    /// [`is_storable_transfer_syntax`]: crate::registry::is_storable_transfer_syntax
    pub storage: Option<RolePolicy>,
}

/// An abstract syntax an acceptor supports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupportedSyntax {
    /// The SOP class.
    pub abstract_syntax: Uid,
    /// Transfer syntaxes we accept, in our order of preference.
    pub transfer_syntaxes: Vec<Uid>,
    /// Roles the requestor may take for this SOP class, when it proposes them by role
    /// selection. Without a role selection item the requestor is SCU and we are SCP.
    pub roles: RolePolicy,
}

impl SupportedSyntax {
    /// Support for `abstract_syntax` with `transfer_syntaxes`, the requestor as SCU.
    pub fn new(abstract_syntax: Uid, transfer_syntaxes: Vec<Uid>) -> Self {
        Self {
            abstract_syntax,
            transfer_syntaxes,
            roles: RolePolicy::default(),
        }
    }

    /// Sets the role policy.
    pub fn with_roles(mut self, roles: RolePolicy) -> Self {
        self.roles = roles;
        self
    }
}

/// Which roles an acceptor lets the requestor play for a SOP class (PS3.7 D.3.3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RolePolicy {
    /// The requestor may be SCU (we are SCP).
    pub requestor_may_be_scu: bool,
    /// The requestor may be SCP (we are SCU): storage SOP classes for C-GET.
    pub requestor_may_be_scp: bool,
}

impl Default for RolePolicy {
    fn default() -> Self {
        Self {
            requestor_may_be_scu: true,
            requestor_may_be_scp: false,
        }
    }
}

/// Which side of the association we are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// We sent the A-ASSOCIATE-RQ.
    Requestor,
    /// We received it.
    Acceptor,
}

/// One negotiated presentation context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiatedContext {
    /// The context id.
    pub id: PresentationContextId,
    /// The abstract syntax proposed for it.
    pub abstract_syntax: Uid,
    /// The result.
    pub result: PresentationContextResult,
    /// The transfer syntax accepted (`Some` exactly when accepted).
    pub transfer_syntax: Option<Uid>,
    /// Whether the requestor may act as SCU on it.
    pub requestor_scu: bool,
    /// Whether the requestor may act as SCP on it.
    pub requestor_scp: bool,
}

impl NegotiatedContext {
    /// Accepted, with a transfer syntax.
    pub fn is_accepted(&self) -> bool {
        self.result == PresentationContextResult::Acceptance && self.transfer_syntax.is_some()
    }
}

/// What both sides agreed on, as seen from our side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// Our role.
    pub role: Role,
    /// The calling (requestor's) AE title.
    pub calling_ae_title: AeTitle,
    /// The called (acceptor's) AE title.
    pub called_ae_title: AeTitle,
    /// Every proposed context with its result, in proposal order.
    pub contexts: Vec<NegotiatedContext>,
    /// The largest P-DATA-TF we accept (what we announced).
    pub local_max_pdu_length: u32,
    /// What the peer announced (0 = no limit).
    pub peer_max_pdu_length: u32,
    /// The largest P-DATA-TF we send: the peer's limit, capped by our configuration.
    pub send_max_pdu_length: u32,
    /// The agreed window: the acceptor's reply, or 1 and 1 when none.
    pub async_operations_window: AsyncOperationsWindow,
    /// The peer's implementation class UID.
    pub peer_implementation_class_uid: Uid,
    /// The peer's implementation version name.
    pub peer_implementation_version_name: Option<String>,
    /// The user identity the requestor sent, if any (kept on the acceptor side).
    pub user_identity: Option<UserIdentityRequest>,
    /// The acceptor's user identity response, if any (kept on the requestor side).
    pub user_identity_response: Option<Vec<u8>>,
    /// SOP class extended negotiation the acceptor replied with.
    pub sop_class_extended: Vec<SopClassExtendedNegotiation>,
    /// SOP class common extended negotiation the requestor sent.
    pub sop_class_common_extended: Vec<SopClassCommonExtendedNegotiation>,
}

impl Negotiated {
    /// The accepted contexts.
    pub fn accepted(&self) -> impl Iterator<Item = &NegotiatedContext> {
        self.contexts.iter().filter(|c| c.is_accepted())
    }

    /// The context with `id`, if it was accepted.
    pub fn accepted_context(&self, id: PresentationContextId) -> Option<&NegotiatedContext> {
        self.accepted().find(|c| c.id == id)
    }

    /// Whether we may act as SCU on context `id`.
    pub fn local_is_scu(&self, ctx: &NegotiatedContext) -> bool {
        match self.role {
            Role::Requestor => ctx.requestor_scu,
            Role::Acceptor => ctx.requestor_scp,
        }
    }

    /// Whether we may act as SCP on context `id`.
    pub fn local_is_scp(&self, ctx: &NegotiatedContext) -> bool {
        match self.role {
            Role::Requestor => ctx.requestor_scp,
            Role::Acceptor => ctx.requestor_scu,
        }
    }

    /// How many operations we may have outstanding as invoker (0 = no limit), from the
    /// window: the acceptor's reply is the requestor's invoked / performed (PS3.7 D.3.3.3).
    pub fn max_invoked_by_us(&self) -> u16 {
        match self.role {
            Role::Requestor => self.async_operations_window.max_operations_invoked,
            Role::Acceptor => self.async_operations_window.max_operations_performed,
        }
    }

    /// How many operations the peer may have outstanding as invoker (0 = no limit).
    pub fn max_invoked_by_peer(&self) -> u16 {
        match self.role {
            Role::Requestor => self.async_operations_window.max_operations_performed,
            Role::Acceptor => self.async_operations_window.max_operations_invoked,
        }
    }

    /// A one-line description of every context that was not accepted, for error reports.
    pub fn rejected_summary(&self) -> String {
        self.contexts
            .iter()
            .filter(|c| !c.is_accepted())
            .map(|c| {
                format!(
                    "pc{} {}: {}",
                    c.id.get(),
                    c.abstract_syntax,
                    c.result.name()
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// What the DIMSE exchange checks messages against.
impl dimse::Agreement for Negotiated {
    fn transfer_syntax(&self, context_id: PresentationContextId) -> Option<&Uid> {
        self.accepted_context(context_id)
            .and_then(|c| c.transfer_syntax.as_ref())
    }

    fn may_invoke(&self, context_id: PresentationContextId) -> bool {
        self.accepted_context(context_id)
            .is_some_and(|c| self.local_is_scu(c))
    }

    fn invoked_window(&self) -> u16 {
        self.max_invoked_by_us()
    }

    fn performed_window(&self) -> u16 {
        self.max_invoked_by_peer()
    }
}

/// Why an acceptor rejects an association: maps to the result, source and reason of
/// PS3.8 Table 9-21 in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RejectReason {
    /// Permanent, service-user, no-reason-given (also what we send for a refused user
    /// identity).
    NoReasonGiven,
    /// Permanent, service-user, application-context-name-not-supported.
    ApplicationContextNameNotSupported,
    /// Permanent, service-user, calling-AE-title-not-recognized.
    CallingAeTitleNotRecognized,
    /// Permanent, service-user, called-AE-title-not-recognized.
    CalledAeTitleNotRecognized,
    /// Permanent, service-provider (ACSE), protocol-version-not-supported.
    ProtocolVersionNotSupported,
    /// Transient, service-provider (presentation), temporary-congestion.
    TemporaryCongestion,
    /// Transient, service-provider (presentation), local-limit-exceeded.
    LocalLimitExceeded,
}

impl RejectReason {
    /// The A-ASSOCIATE-RJ to send.
    pub const fn to_pdu(self) -> AssociateRj {
        use crate::pdu::{AcseReason, PresentationReason, ServiceUserReason};
        let (result, source) = match self {
            Self::NoReasonGiven => (
                RejectResult::Permanent,
                RejectSource::ServiceUser(ServiceUserReason::NoReasonGiven),
            ),
            Self::ApplicationContextNameNotSupported => (
                RejectResult::Permanent,
                RejectSource::ServiceUser(ServiceUserReason::ApplicationContextNameNotSupported),
            ),
            Self::CallingAeTitleNotRecognized => (
                RejectResult::Permanent,
                RejectSource::ServiceUser(ServiceUserReason::CallingAeTitleNotRecognized),
            ),
            Self::CalledAeTitleNotRecognized => (
                RejectResult::Permanent,
                RejectSource::ServiceUser(ServiceUserReason::CalledAeTitleNotRecognized),
            ),
            Self::ProtocolVersionNotSupported => (
                RejectResult::Permanent,
                RejectSource::ServiceProviderAcse(AcseReason::ProtocolVersionNotSupported),
            ),
            Self::TemporaryCongestion => (
                RejectResult::Transient,
                RejectSource::ServiceProviderPresentation(PresentationReason::TemporaryCongestion),
            ),
            Self::LocalLimitExceeded => (
                RejectResult::Transient,
                RejectSource::ServiceProviderPresentation(PresentationReason::LocalLimitExceeded),
            ),
        };
        AssociateRj { result, source }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.to_pdu().fmt(f)
    }
}

/// The checks AE-6 makes before the user sees the request: protocol version (bit 0),
/// application context name, called and calling AE titles.
pub(crate) fn provider_check(
    rq: &AssociateRq,
    policy: &AcceptorPolicy,
) -> Result<(), RejectReason> {
    if rq.protocol_version & 1 == 0 {
        return Err(RejectReason::ProtocolVersionNotSupported);
    }
    if rq.application_context != DICOM_APPLICATION_CONTEXT {
        return Err(RejectReason::ApplicationContextNameNotSupported);
    }
    if !policy.called_ae_titles.is_empty() && !policy.called_ae_titles.contains(&rq.called_ae_title)
    {
        return Err(RejectReason::CalledAeTitleNotRecognized);
    }
    if !policy.calling_ae_titles.is_empty()
        && !policy.calling_ae_titles.contains(&rq.calling_ae_title)
    {
        return Err(RejectReason::CallingAeTitleNotRecognized);
    }
    // Presentation context IDs are unique in a request (PS3.8 9.3.2.2): a repeated one
    // leaves the answer ambiguous.
    let mut seen = [false; 256];
    for pc in &rq.presentation_contexts {
        let id = usize::from(pc.id.get());
        if std::mem::replace(&mut seen[id], true) {
            tracing::warn!(
                id,
                "presentation context ID proposed more than once; rejecting"
            );
            return Err(RejectReason::NoReasonGiven);
        }
    }
    Ok(())
}

/// Never more than proposed; 0 means unlimited on both sides.
fn window_value(ours: u16, proposed: u16) -> u16 {
    match (ours, proposed) {
        (0, p) => p,
        (o, 0) => o,
        (o, p) => o.min(p),
    }
}

/// The acceptor's answer to a request under a policy, before the user confirms it.
pub(crate) fn negotiate_as_acceptor(
    rq: &AssociateRq,
    policy: &AcceptorPolicy,
    config: &AssociationConfig,
) -> (AssociateAc, Negotiated) {
    let proposed_roles: HashMap<&Uid, &RoleSelection> = rq
        .user_information
        .role_selections
        .iter()
        .map(|r| (&r.sop_class_uid, r))
        .collect();
    let mut contexts = Vec::with_capacity(rq.presentation_contexts.len());
    let mut granted_roles: Vec<RoleSelection> = Vec::new();
    for pc in &rq.presentation_contexts {
        let supported = policy
            .abstract_syntaxes
            .iter()
            .find(|s| s.abstract_syntax == pc.abstract_syntax);
        let mut negotiated = NegotiatedContext {
            id: pc.id,
            abstract_syntax: pc.abstract_syntax.clone(),
            result: PresentationContextResult::AbstractSyntaxNotSupported,
            transfer_syntax: None,
            requestor_scu: false,
            requestor_scp: false,
        };
        let storage = match (supported, policy.storage) {
            (None, Some(roles)) if storage::is_storage_sop_class(pc.abstract_syntax.as_str()) => {
                Some(SupportedSyntax {
                    abstract_syntax: pc.abstract_syntax.clone(),
                    transfer_syntaxes: pc
                        .transfer_syntaxes
                        .iter()
                        .find(|ts| storage::is_storable_transfer_syntax(ts.as_str()))
                        .cloned()
                        .into_iter()
                        .collect(),
                    roles,
                })
            }
            _ => None,
        };
        if let Some(supported) = supported.or(storage.as_ref()) {
            let chosen = supported
                .transfer_syntaxes
                .iter()
                .find(|ts| pc.transfer_syntaxes.contains(ts));
            match chosen {
                None => negotiated.result = PresentationContextResult::TransferSyntaxesNotSupported,
                Some(ts) => {
                    let (scu, scp) = match proposed_roles.get(&pc.abstract_syntax) {
                        // Never grant a role that was not proposed (PS3.7 D.3.3.4).
                        Some(p) => (
                            p.scu_role && supported.roles.requestor_may_be_scu,
                            p.scp_role && supported.roles.requestor_may_be_scp,
                        ),
                        None => (supported.roles.requestor_may_be_scu, false),
                    };
                    if scu || scp {
                        negotiated.result = PresentationContextResult::Acceptance;
                        negotiated.transfer_syntax = Some(ts.clone());
                        negotiated.requestor_scu = scu;
                        negotiated.requestor_scp = scp;
                        if proposed_roles.contains_key(&pc.abstract_syntax)
                            && !granted_roles
                                .iter()
                                .any(|r| r.sop_class_uid == pc.abstract_syntax)
                        {
                            granted_roles.push(RoleSelection {
                                sop_class_uid: pc.abstract_syntax.clone(),
                                scu_role: scu,
                                scp_role: scp,
                            });
                        }
                    } else {
                        // Neither role is open to the requestor: the context cannot be used.
                        negotiated.result = PresentationContextResult::UserRejection;
                    }
                }
            }
        }
        contexts.push(negotiated);
    }

    let window = match (
        policy.async_operations_window,
        rq.user_information.async_operations_window,
    ) {
        (Some(ours), Some(proposed)) => Some(AsyncOperationsWindow {
            max_operations_invoked: window_value(
                ours.max_operations_invoked,
                proposed.max_operations_invoked,
            ),
            max_operations_performed: window_value(
                ours.max_operations_performed,
                proposed.max_operations_performed,
            ),
        }),
        _ => None,
    };

    let mut ui = config.user_information();
    ui.async_operations_window = window;
    ui.role_selections = granted_roles;
    let ac = AssociateAc {
        protocol_version: PROTOCOL_VERSION,
        called_ae_title_echo: rq.called_ae_title.to_padded(),
        calling_ae_title_echo: rq.calling_ae_title.to_padded(),
        application_context: DICOM_APPLICATION_CONTEXT,
        presentation_contexts: contexts
            .iter()
            .map(|c| PresentationContextAc {
                id: c.id,
                result: c.result,
                // Rejected contexts echo the first proposed transfer syntax; the field is
                // not significant for them, but some peers expect a valid sub-item.
                transfer_syntax: c.transfer_syntax.clone().or_else(|| {
                    rq.presentation_contexts
                        .iter()
                        .find(|p| p.id == c.id)
                        .and_then(|p| p.transfer_syntaxes.first().cloned())
                }),
                unknown_sub_items: Vec::new(),
            })
            .collect(),
        user_information: ui,
        unknown_items: Vec::new(),
    };
    let negotiated = Negotiated {
        role: Role::Acceptor,
        calling_ae_title: rq.calling_ae_title,
        called_ae_title: rq.called_ae_title,
        contexts,
        local_max_pdu_length: config.max_pdu_length,
        peer_max_pdu_length: rq.user_information.max_length,
        send_max_pdu_length: config.send_limit(rq.user_information.max_length),
        async_operations_window: window.unwrap_or(AsyncOperationsWindow {
            max_operations_invoked: 1,
            max_operations_performed: 1,
        }),
        peer_implementation_class_uid: rq.user_information.implementation_class_uid.clone(),
        peer_implementation_version_name: rq.user_information.implementation_version_name.clone(),
        user_identity: rq.user_information.user_identity_request.clone(),
        user_identity_response: None,
        sop_class_extended: Vec::new(),
        sop_class_common_extended: rq.user_information.sop_class_common_extended.clone(),
    };
    (ac, negotiated)
}

/// What the user adds when accepting.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AcceptOptions {
    /// The server response for a user identity that asked for a positive response
    /// (Kerberos ticket, SAML response, JWT; empty for username types). Sent only when
    /// the requestor asked for a response.
    pub user_identity_response: Option<Vec<u8>>,
    /// SOP class extended negotiation replies, for SOP classes the requestor proposed
    /// extended negotiation for (others are dropped).
    pub sop_class_extended: Vec<SopClassExtendedNegotiation>,
}

pub(crate) fn apply_accept_options(
    ac: &mut AssociateAc,
    negotiated: &mut Negotiated,
    rq: &AssociateRq,
    options: AcceptOptions,
) {
    if let Some(id) = &rq.user_information.user_identity_request {
        if id.positive_response_requested {
            // Types 1 and 2 have an empty server response (PS3.7 D.3.3.7.2).
            let response = options.user_identity_response.unwrap_or_default();
            ac.user_information.user_identity_response = Some(UserIdentityResponse {
                server_response: response,
            });
        }
    }
    let proposed: Vec<&Uid> = rq
        .user_information
        .sop_class_extended
        .iter()
        .map(|e| &e.sop_class_uid)
        .collect();
    let replies: Vec<SopClassExtendedNegotiation> = options
        .sop_class_extended
        .into_iter()
        .filter(|e| proposed.contains(&&e.sop_class_uid))
        .collect();
    ac.user_information.sop_class_extended = replies.clone();
    negotiated.sop_class_extended = replies;
}

/// The requestor's view of an A-ASSOCIATE-AC.
pub(crate) fn negotiate_as_requestor(
    rq: &AssociateRq,
    ac: &AssociateAc,
    config: &AssociationConfig,
) -> Negotiated {
    let contexts = rq
        .presentation_contexts
        .iter()
        .map(|proposed| {
            let answer = ac
                .presentation_contexts
                .iter()
                .find(|a| a.id == proposed.id);
            let mut ctx = NegotiatedContext {
                id: proposed.id,
                abstract_syntax: proposed.abstract_syntax.clone(),
                // A context the acceptor did not answer is not usable.
                result: answer.map_or(PresentationContextResult::NoReason, |a| a.result),
                transfer_syntax: None,
                requestor_scu: false,
                requestor_scp: false,
            };
            if let Some(a) = answer.filter(|a| a.result == PresentationContextResult::Acceptance) {
                // An accepted transfer syntax we did not propose cannot be used.
                match &a.transfer_syntax {
                    Some(ts) if proposed.transfer_syntaxes.contains(ts) => {
                        ctx.transfer_syntax = Some(ts.clone());
                        let ours = rq
                            .user_information
                            .role_selections
                            .iter()
                            .find(|r| r.sop_class_uid == proposed.abstract_syntax);
                        let theirs = ac
                            .user_information
                            .role_selections
                            .iter()
                            .find(|r| r.sop_class_uid == proposed.abstract_syntax);
                        (ctx.requestor_scu, ctx.requestor_scp) = match (ours, theirs) {
                            (Some(o), Some(t)) => {
                                (o.scu_role && t.scu_role, o.scp_role && t.scp_role)
                            }
                            // The acceptor ignored role selection: default roles.
                            _ => (true, false),
                        };
                    }
                    _ => ctx.result = PresentationContextResult::TransferSyntaxesNotSupported,
                }
            }
            ctx
        })
        .collect();
    let peer_max = ac.user_information.max_length;
    Negotiated {
        role: Role::Requestor,
        calling_ae_title: rq.calling_ae_title,
        called_ae_title: rq.called_ae_title,
        contexts,
        local_max_pdu_length: config.max_pdu_length,
        peer_max_pdu_length: peer_max,
        send_max_pdu_length: config.send_limit(peer_max),
        async_operations_window: match (
            rq.user_information.async_operations_window,
            ac.user_information.async_operations_window,
        ) {
            (Some(_), Some(reply)) => reply,
            _ => AsyncOperationsWindow {
                max_operations_invoked: 1,
                max_operations_performed: 1,
            },
        },
        peer_implementation_class_uid: ac.user_information.implementation_class_uid.clone(),
        peer_implementation_version_name: ac.user_information.implementation_version_name.clone(),
        user_identity: rq.user_information.user_identity_request.clone(),
        user_identity_response: ac
            .user_information
            .user_identity_response
            .as_ref()
            .map(|r| r.server_response.clone()),
        sop_class_extended: ac.user_information.sop_class_extended.clone(),
        sop_class_common_extended: rq.user_information.sop_class_common_extended.clone(),
    }
}
