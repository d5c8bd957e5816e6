//! The refund and reversal state machines: the one place that says which state of money going
//! back may follow which, beside the payment's own ([`crate::payment`]).
//!
//! ```text
//! refund:    authorizing → approved | declined | in_doubt
//!            in_doubt    → approved | declined | reversed      (inquiry, or the 0400's answer)
//!            recorded                                          (cash, recorded by treasury: final)
//! reversal:  pending → pending (a try failed, retried) | done | gave_up
//!            gave_up → pending                                 (treasury asks for another round)
//! ```
//!
//! A refund is *open* while its outcome is not known (`authorizing`, `in_doubt`) and *moved money*
//! when `approved` or `recorded`. A reversal is open while `pending`. At most one of them is open
//! per payment at a time (enforced where they start, in the gateway's payments module).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundState {
    Authorizing,
    Approved,
    Declined,
    InDoubt,
    Reversed,
    Recorded,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReversalState {
    Pending,
    Done,
    GaveUp,
}

/// A transition the table does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a {what} cannot go from {from} to {to}")]
pub struct IllegalStep {
    pub what: &'static str,
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} state {text:?}")]
pub struct UnknownState {
    pub what: &'static str,
    pub text: String,
}

impl RefundState {
    pub const ALL: [RefundState; 6] = [
        RefundState::Authorizing,
        RefundState::Approved,
        RefundState::Declined,
        RefundState::InDoubt,
        RefundState::Reversed,
        RefundState::Recorded,
    ];

    /// The states a refund may begin in: sent to its acquirer, or recorded as cash.
    pub const INITIAL: [RefundState; 2] = [RefundState::Authorizing, RefundState::Recorded];

    /// The allowed successors. This table is the refund state machine.
    pub fn successors(self) -> &'static [RefundState] {
        use RefundState::*;
        match self {
            Authorizing => &[Approved, Declined, InDoubt],
            InDoubt => &[Approved, Declined, Reversed],
            Approved | Declined | Reversed | Recorded => &[],
        }
    }

    pub fn can_become(self, to: RefundState) -> bool {
        self.successors().contains(&to)
    }

    pub fn transition(self, to: RefundState) -> Result<RefundState, IllegalStep> {
        if self.can_become(to) {
            Ok(to)
        } else {
            Err(IllegalStep { what: "refund", from: self.code().into(), to: to.code().into() })
        }
    }

    /// Its outcome is not known yet: no other money may go back on the payment meanwhile.
    pub fn is_open(self) -> bool {
        matches!(self, RefundState::Authorizing | RefundState::InDoubt)
    }

    /// The money went back to the customer.
    pub fn moved_money(self) -> bool {
        matches!(self, RefundState::Approved | RefundState::Recorded)
    }

    pub fn code(self) -> &'static str {
        match self {
            RefundState::Authorizing => "authorizing",
            RefundState::Approved => "approved",
            RefundState::Declined => "declined",
            RefundState::InDoubt => "in_doubt",
            RefundState::Reversed => "reversed",
            RefundState::Recorded => "recorded",
        }
    }
}

impl ReversalState {
    pub const ALL: [ReversalState; 3] = [ReversalState::Pending, ReversalState::Done, ReversalState::GaveUp];

    /// The allowed successors. This table is the reversal state machine.
    pub fn successors(self) -> &'static [ReversalState] {
        use ReversalState::*;
        match self {
            Pending => &[Pending, Done, GaveUp],
            GaveUp => &[Pending],
            Done => &[],
        }
    }

    pub fn can_become(self, to: ReversalState) -> bool {
        self.successors().contains(&to)
    }

    pub fn transition(self, to: ReversalState) -> Result<ReversalState, IllegalStep> {
        if self.can_become(to) {
            Ok(to)
        } else {
            Err(IllegalStep { what: "reversal", from: self.code().into(), to: to.code().into() })
        }
    }

    pub fn is_open(self) -> bool {
        self == ReversalState::Pending
    }

    pub fn code(self) -> &'static str {
        match self {
            ReversalState::Pending => "pending",
            ReversalState::Done => "done",
            ReversalState::GaveUp => "gave_up",
        }
    }
}

macro_rules! text_form {
    ($type:ty, $what:literal) => {
        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.code())
            }
        }

        impl FromStr for $type {
            type Err = UnknownState;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                <$type>::ALL
                    .into_iter()
                    .find(|state| state.code() == s)
                    .ok_or_else(|| UnknownState { what: $what, text: s.to_string() })
            }
        }
    };
}

text_form!(RefundState, "refund");
text_form!(ReversalState, "reversal");

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn codes_round_trip() {
        for state in RefundState::ALL {
            assert_eq!(state.code().parse::<RefundState>().unwrap(), state);
        }
        for state in ReversalState::ALL {
            assert_eq!(state.code().parse::<ReversalState>().unwrap(), state);
        }
        assert!("sent".parse::<RefundState>().is_err());
    }

    #[test]
    fn a_refund_in_doubt_never_reads_as_money_moved() {
        assert!(RefundState::InDoubt.is_open());
        assert!(!RefundState::InDoubt.moved_money());
        let error = RefundState::Declined.transition(RefundState::Approved).unwrap_err();
        assert_eq!(error.to_string(), "a refund cannot go from declined to approved");
    }

    proptest! {
        /// Whatever events arrive, a refund's accepted history is legal: it starts in an initial
        /// state, leaves no final state, is `reversed` only after being in doubt, and an open
        /// refund never counts as money moved.
        #[test]
        fn refund_histories_are_legal(
            start in proptest::sample::select(RefundState::INITIAL.to_vec()),
            events in proptest::collection::vec(proptest::sample::select(RefundState::ALL.to_vec()), 0..30),
        ) {
            let mut state = start;
            let mut history = vec![state];
            for event in events {
                let was_final = state.successors().is_empty();
                if let Ok(next) = state.transition(event) {
                    prop_assert!(!was_final);
                    state = next;
                    history.push(state);
                }
                prop_assert!(!(state.is_open() && state.moved_money()));
                if state == RefundState::Reversed {
                    prop_assert!(history.contains(&RefundState::InDoubt));
                }
                if history.contains(&RefundState::Recorded) {
                    prop_assert_eq!(history.len(), 1, "a recorded refund never changes");
                }
            }
        }

        /// A reversal ends done at most once and nothing follows it; giving up is never final
        /// for good (treasury may ask for another round), but `done` is.
        #[test]
        fn reversal_histories_are_legal(
            events in proptest::collection::vec(proptest::sample::select(ReversalState::ALL.to_vec()), 0..30),
        ) {
            let mut state = ReversalState::Pending;
            let mut done = 0;
            for event in events {
                if let Ok(next) = state.transition(event) {
                    prop_assert_ne!(state, ReversalState::Done);
                    if next == ReversalState::Done {
                        done += 1;
                    }
                    state = next;
                }
                prop_assert!(done <= 1);
            }
        }
    }
}
