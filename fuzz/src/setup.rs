//! What the association targets share: the syntaxes they negotiate and the small limits
//! they run under, so that the fuzzer reaches the limits.

use std::sync::Arc;

use dicomwire::pdu::{AeTitle, DICOM_APPLICATION_CONTEXT, Uid};
use dicomwire::ul::{
    AcceptorPolicy, AssociationConfig, AssociationRequest, ProposedContext, RolePolicy,
    SupportedSyntax,
};

pub(crate) const VERIFICATION: &str = "1.2.840.10008.1.1";
pub(crate) const MWL_FIND: &str = "1.2.840.10008.5.1.4.31";
pub(crate) const HP_STORAGE: &str = "1.2.840.10008.5.1.4.38.1";
pub(crate) const TRANSFER_SYNTAXES: [&str; 2] = ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2"];

pub(crate) fn uid(s: &str) -> Uid {
    Uid::new(s).unwrap_or(DICOM_APPLICATION_CONTEXT)
}

/// Small limits, so that the fuzzer reaches them.
pub(crate) fn fuzz_config(selector: u8) -> AssociationConfig {
    let mut config = AssociationConfig {
        max_pdu_length: if selector & 1 == 0 { 16_384 } else { 64 },
        max_associate_length: 4096,
        ..AssociationConfig::default()
    };
    config.dimse.max_command_length = 512;
    config.dimse.max_identifier_length = 4096;
    config.dimse.max_store_length = 8192;
    config.dimse.stream_store_data = selector & 2 != 0;
    config.dimse.raw_pdata = selector & 4 != 0;
    config
}

pub(crate) fn fuzz_policy() -> Arc<AcceptorPolicy> {
    let ts: Vec<Uid> = TRANSFER_SYNTAXES.iter().map(|s| uid(s)).collect();
    Arc::new(AcceptorPolicy {
        abstract_syntaxes: vec![
            SupportedSyntax::new(uid(VERIFICATION), ts.clone()),
            SupportedSyntax::new(uid(MWL_FIND), ts.clone()),
            SupportedSyntax::new(uid(HP_STORAGE), ts).with_roles(RolePolicy {
                requestor_may_be_scu: true,
                requestor_may_be_scp: true,
            }),
        ],
        ..AcceptorPolicy::default()
    })
}

pub(crate) fn fuzz_request() -> AssociationRequest {
    let ts: Vec<Uid> = TRANSFER_SYNTAXES.iter().map(|s| uid(s)).collect();
    let ae = |s: &str| AeTitle::new(s).unwrap_or_else(|_| unreachable!("valid AE title"));
    AssociationRequest::new(ae("FUZZSCU"), ae("ANY-SCP"))
        .with_context(ProposedContext::new(uid(VERIFICATION), ts.clone()))
        .with_context(ProposedContext::new(uid(MWL_FIND), ts.clone()))
        .with_context(ProposedContext::new(uid(HP_STORAGE), ts))
        .with_role(uid(HP_STORAGE), false, true)
}
