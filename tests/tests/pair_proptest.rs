//! Split invariance of the upper layer: a random valid exchange between a requestor and an
//! acceptor gives the same logs on both sides whether the byte streams are delivered in
//! whole PDUs, byte by byte, or cut at random, and every P-DATA arrives intact and in order.
//!
//! An exchange is a random negotiated maximum PDU length on each side, P-DATA-TFs each way
//! (one to three PDVs, sizes up to the negotiated maximum), sometimes read as they go and
//! sometimes left to cross on the wire, and an ending: a release by either side, a
//! release collision, or an abort by either side.

use dicomwire::pdu::{MessageControlHeader, PData, Pdv, PresentationContextId};
use dicomwire::ul::fsm::State;
use dicomwire_tests::pair::{
    Chunking, Pair, Side, SplitMix64, assert_same_logs, echo_policy, echo_request, ul_config,
};
use proptest::prelude::*;

/// One PDV to send: command or data, last or not, and a size as a share of what fits.
#[derive(Debug, Clone, Copy)]
struct PdvPlan {
    command: bool,
    last: bool,
    /// Per mille of the room left for this PDV; 1000 fills the PDU exactly.
    share: u16,
}

#[derive(Debug, Clone)]
enum Op {
    /// One P-DATA-TF from a side.
    Send { from: Side, pdvs: Vec<PdvPlan> },
    /// Let the pair move everything so far.
    Drive,
}

#[derive(Debug, Clone, Copy)]
enum Ending {
    Release(Side),
    Collision,
    Abort(Side),
}

#[derive(Debug, Clone)]
struct Exchange {
    requestor_max_pdu: u32,
    acceptor_max_pdu: u32,
    ops: Vec<Op>,
    /// Whether the pair settles before the ending (if not, data crosses the ending).
    drive_before_ending: bool,
    ending: Ending,
    seed: u64,
}

fn side() -> impl Strategy<Value = Side> {
    any::<bool>().prop_map(|b| if b { Side::Requestor } else { Side::Acceptor })
}

fn pdv_plan() -> impl Strategy<Value = PdvPlan> {
    (
        any::<bool>(),
        any::<bool>(),
        prop_oneof![Just(1000u16), 0u16..=1000],
    )
        .prop_map(|(command, last, share)| PdvPlan {
            command,
            last,
            share,
        })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (side(), prop::collection::vec(pdv_plan(), 1..=3))
            .prop_map(|(from, pdvs)| Op::Send { from, pdvs }),
        1 => Just(Op::Drive),
    ]
}

fn ending() -> impl Strategy<Value = Ending> {
    prop_oneof![
        side().prop_map(Ending::Release),
        Just(Ending::Collision),
        side().prop_map(Ending::Abort),
    ]
}

fn exchange() -> impl Strategy<Value = Exchange> {
    (
        prop_oneof![Just(7u32), Just(64), 7u32..=8192],
        prop_oneof![Just(7u32), Just(64), 7u32..=8192],
        prop::collection::vec(op(), 0..=16),
        any::<bool>(),
        ending(),
        any::<u64>(),
    )
        .prop_map(
            |(requestor_max_pdu, acceptor_max_pdu, ops, drive_before_ending, ending, seed)| {
                Exchange {
                    requestor_max_pdu,
                    acceptor_max_pdu,
                    ops,
                    drive_before_ending,
                    ending,
                    seed,
                }
            },
        )
}

/// The PDV payloads of one P-DATA-TF from `from`, sized to fit what the peer accepts.
fn payloads(pair: &Pair, from: Side, plans: &[PdvPlan], rng: &mut SplitMix64) -> Vec<Vec<u8>> {
    let limit = pair
        .side(from)
        .negotiated()
        .expect("established")
        .send_max_pdu_length;
    let limit = usize::try_from(limit).unwrap();
    // Each PDV costs a 6-byte header; share out the rest, at least one byte each.
    let room = limit.saturating_sub(6 * plans.len());
    let mut left = room;
    plans
        .iter()
        .enumerate()
        .map(|(i, plan)| {
            let fair = left / (plans.len() - i);
            let len = (fair * usize::from(plan.share) / 1000)
                .max(1)
                .min(left.max(1));
            left = left.saturating_sub(len);
            (0..len).map(|_| rng.next_u64().to_le_bytes()[0]).collect()
        })
        .collect()
}

/// Plays `exchange` under `chunking`; returns the pair and the PDVs each side sent.
fn play(exchange: &Exchange, chunking: Chunking) -> (Pair, [Vec<Vec<u8>>; 2]) {
    let mut requestor_config = ul_config();
    requestor_config.max_pdu_length = exchange.requestor_max_pdu;
    let mut acceptor_config = ul_config();
    acceptor_config.max_pdu_length = exchange.acceptor_max_pdu;
    let mut pair = Pair::with_configs(
        chunking,
        requestor_config,
        acceptor_config,
        echo_request(),
        echo_policy(),
    );
    pair.drive();
    let mut rng = SplitMix64::new(exchange.seed);
    let mut sent: [Vec<Vec<u8>>; 2] = [Vec::new(), Vec::new()];
    let pc = PresentationContextId::new(1).unwrap();
    for op in &exchange.ops {
        match op {
            Op::Drive => pair.drive(),
            Op::Send { from, pdvs } => {
                // A PDV needs 7 bytes at least: a small maximum takes fewer PDVs.
                let limit = pair
                    .side(*from)
                    .negotiated()
                    .expect("established")
                    .send_max_pdu_length;
                let fit = usize::try_from(limit / 7).unwrap().clamp(1, pdvs.len());
                let pdvs = &pdvs[..fit];
                let data = payloads(&pair, *from, pdvs, &mut rng);
                let pdata = PData::new(
                    pdvs.iter()
                        .zip(&data)
                        .map(|(plan, data)| {
                            let mut header = MessageControlHeader::empty();
                            header.set(MessageControlHeader::COMMAND, plan.command);
                            header.set(MessageControlHeader::LAST, plan.last);
                            Pdv {
                                context_id: pc,
                                header,
                                data,
                            }
                        })
                        .collect(),
                );
                pair.send_pdata(*from, &pdata)
                    .unwrap_or_else(|e| panic!("{e}\n{}", pair.dump()));
                sent[usize::from(*from == Side::Acceptor)].extend(data);
            }
        }
    }
    if exchange.drive_before_ending {
        pair.drive();
    }
    match exchange.ending {
        Ending::Release(side) => pair.release(side).unwrap(),
        Ending::Collision => {
            pair.release(Side::Requestor).unwrap();
            pair.release(Side::Acceptor).unwrap();
        }
        Ending::Abort(side) => pair.abort(side).unwrap(),
    }
    pair.run_to_completion();
    (pair, sent)
}

fn check(exchange: &Exchange) {
    let (whole, sent) = play(exchange, Chunking::Whole);
    for side in Side::BOTH {
        assert_eq!(whole.state(side), State::Idle, "{}", whole.dump());
        assert_eq!(
            whole.events(side).last().map(String::as_str),
            Some("Closed")
        );
    }
    if !matches!(exchange.ending, Ending::Abort(_)) {
        // A release loses nothing: every PDV arrives, in order, byte for byte.
        for (from, to) in [
            (Side::Requestor, Side::Acceptor),
            (Side::Acceptor, Side::Requestor),
        ] {
            let received: Vec<&[u8]> = whole
                .received_pdvs(to)
                .iter()
                .map(|p| p.data.as_slice())
                .collect();
            let expected: Vec<&[u8]> = sent[usize::from(from == Side::Acceptor)]
                .iter()
                .map(Vec::as_slice)
                .collect();
            assert_eq!(received, expected, "{from:?} to {to:?}");
        }
    }
    for chunking in [Chunking::Bytewise, Chunking::Seeded(exchange.seed)] {
        let (other, _) = play(exchange, chunking);
        assert_same_logs(&whole, &other);
        for side in Side::BOTH {
            assert!(
                other.reads(side) >= whole.reads(side),
                "{side:?} read fewer times than whole"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn random_chunkings_of_random_exchanges_give_the_same_events(exchange in exchange()) {
        check(&exchange);
    }
}

#[test]
fn a_crossing_collision_with_full_pdus() {
    // A fixed, heavy case: maximum-size P-DATA-TFs each way, crossing a release collision.
    let full = PdvPlan {
        command: false,
        last: false,
        share: 1000,
    };
    let exchange = Exchange {
        requestor_max_pdu: 64,
        acceptor_max_pdu: 3000,
        ops: vec![
            Op::Send {
                from: Side::Requestor,
                pdvs: vec![full],
            },
            Op::Send {
                from: Side::Acceptor,
                pdvs: vec![full, full, full],
            },
            Op::Send {
                from: Side::Requestor,
                pdvs: vec![full, full],
            },
            Op::Send {
                from: Side::Acceptor,
                pdvs: vec![full],
            },
        ],
        drive_before_ending: false,
        ending: Ending::Collision,
        seed: 7,
    };
    check(&exchange);
    // The seeded cuts do carry the end of one PDU and the start of the next in one read.
    let (seeded, _) = play(&exchange, Chunking::Seeded(exchange.seed));
    assert!(
        Side::BOTH
            .iter()
            .all(|&side| seeded.straddling_reads(side) > 0),
        "{}",
        seeded.dump()
    );
    let (whole, _) = play(&exchange, Chunking::Whole);
    assert_eq!(whole.straddling_reads(Side::Requestor), 0);
}
