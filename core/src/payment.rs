//! The payment state machine: the one place that says which state may follow which.
//!
//! ```text
//! created → awaiting_device → authorizing → approved → completed
//!                 exits: declined, cancelled, failed
//!                 in_doubt: asked, no answer; resolved to approved/completed, declined,
//!                           reversed, cancelled or failed — never shown as success or failure
//! completed → voided | partially_refunded → refunded
//! ```
//!
//! Cash has no authorization: a cash payment goes from `created` straight to `completed` when the
//! clerk takes the money. A cashless payment can only complete after an approval.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::brand::Method;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentState {
    Created,
    AwaitingDevice,
    Authorizing,
    Approved,
    Completed,
    Declined,
    Cancelled,
    Failed,
    InDoubt,
    Reversed,
    Voided,
    PartiallyRefunded,
    Refunded,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a {method} payment cannot go from {from} to {to}")]
pub struct IllegalTransition {
    pub method: Method,
    pub from: PaymentState,
    pub to: PaymentState,
}

impl PaymentState {
    pub const ALL: [PaymentState; 13] = [
        PaymentState::Created,
        PaymentState::AwaitingDevice,
        PaymentState::Authorizing,
        PaymentState::Approved,
        PaymentState::Completed,
        PaymentState::Declined,
        PaymentState::Cancelled,
        PaymentState::Failed,
        PaymentState::InDoubt,
        PaymentState::Reversed,
        PaymentState::Voided,
        PaymentState::PartiallyRefunded,
        PaymentState::Refunded,
    ];

    /// The allowed successors of a state for a payment method. This table is the state machine.
    pub fn successors(self, method: Method) -> &'static [PaymentState] {
        use PaymentState::*;
        if method == Method::Cash {
            return match self {
                Created => &[Completed, Cancelled],
                Completed => &[Voided, PartiallyRefunded, Refunded],
                PartiallyRefunded => &[PartiallyRefunded, Refunded],
                _ => &[],
            };
        }
        match self {
            Created => &[AwaitingDevice, Authorizing, Cancelled, Failed],
            AwaitingDevice => &[Authorizing, Declined, Cancelled, Failed, InDoubt],
            Authorizing => &[Approved, Declined, Cancelled, Failed, InDoubt],
            Approved => &[Completed, Reversed, InDoubt],
            InDoubt => &[Approved, Completed, Declined, Reversed, Cancelled, Failed],
            Completed => &[Voided, PartiallyRefunded, Refunded],
            PartiallyRefunded => &[PartiallyRefunded, Refunded],
            Declined | Cancelled | Failed | Reversed | Voided | Refunded => &[],
        }
    }

    pub fn can_become(self, to: PaymentState, method: Method) -> bool {
        self.successors(method).contains(&to)
    }

    /// The only way a payment changes state.
    pub fn transition(self, to: PaymentState, method: Method) -> Result<PaymentState, IllegalTransition> {
        if self.can_become(to, method) {
            Ok(to)
        } else {
            Err(IllegalTransition { method, from: self, to })
        }
    }

    /// No further change is possible.
    pub fn is_terminal(self, method: Method) -> bool {
        self.successors(method).is_empty()
    }

    /// The money was taken and is (still, at least in part) the city's.
    pub fn holds_money(self) -> bool {
        matches!(self, PaymentState::Completed | PaymentState::PartiallyRefunded)
    }

    /// The outcome is not yet known: the clerk must not retry.
    pub fn is_pending(self) -> bool {
        matches!(
            self,
            PaymentState::Created
                | PaymentState::AwaitingDevice
                | PaymentState::Authorizing
                | PaymentState::Approved
                | PaymentState::InDoubt
        )
    }

    pub fn code(self) -> &'static str {
        match self {
            PaymentState::Created => "created",
            PaymentState::AwaitingDevice => "awaiting_device",
            PaymentState::Authorizing => "authorizing",
            PaymentState::Approved => "approved",
            PaymentState::Completed => "completed",
            PaymentState::Declined => "declined",
            PaymentState::Cancelled => "cancelled",
            PaymentState::Failed => "failed",
            PaymentState::InDoubt => "in_doubt",
            PaymentState::Reversed => "reversed",
            PaymentState::Voided => "voided",
            PaymentState::PartiallyRefunded => "partially_refunded",
            PaymentState::Refunded => "refunded",
        }
    }
}

impl fmt::Display for PaymentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown payment state {0:?}")]
pub struct UnknownPaymentState(pub String);

impl FromStr for PaymentState {
    type Err = UnknownPaymentState;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PaymentState::ALL.into_iter().find(|state| state.code() == s).ok_or_else(|| UnknownPaymentState(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn any_state() -> impl Strategy<Value = PaymentState> {
        proptest::sample::select(PaymentState::ALL.to_vec())
    }

    fn any_method() -> impl Strategy<Value = Method> {
        proptest::sample::select(Method::ALL.to_vec())
    }

    #[test]
    fn codes_round_trip() {
        for state in PaymentState::ALL {
            assert_eq!(state.code().parse::<PaymentState>().unwrap(), state);
        }
    }

    #[test]
    fn cash_cannot_be_in_doubt_and_cards_cannot_skip_approval() {
        assert!(PaymentState::Created.transition(PaymentState::Completed, Method::Cash).is_ok());
        let error = PaymentState::Created.transition(PaymentState::Completed, Method::Card).unwrap_err();
        assert_eq!(error.to_string(), "a card payment cannot go from created to completed");
        assert!(PaymentState::Created.transition(PaymentState::InDoubt, Method::Cash).is_err());
    }

    proptest! {
        /// Whatever events arrive, in whatever order, the history the machine accepts is a legal
        /// one: nothing leaves a terminal state, money is never held without an approval (or cash),
        /// nothing is refunded, voided or reversed that was not taken or asked for first, and a
        /// refused event changes nothing.
        #[test]
        fn no_sequence_of_events_reaches_an_illegal_state(
            method in any_method(),
            events in proptest::collection::vec(any_state(), 0..40),
        ) {
            let mut state = PaymentState::Created;
            let mut history = vec![state];
            for event in events {
                let terminal_before = state.is_terminal(method);
                match state.transition(event, method) {
                    Ok(next) => {
                        prop_assert!(!terminal_before, "left terminal state {state}");
                        state = next;
                        history.push(state);
                    }
                    Err(error) => {
                        prop_assert_eq!(error.from, state);
                        prop_assert_eq!(error.to, event);
                    }
                }
                let seen = |wanted: PaymentState| history.contains(&wanted);
                if state == PaymentState::Completed && method != Method::Cash {
                    prop_assert!(seen(PaymentState::Approved) || seen(PaymentState::InDoubt));
                    prop_assert!(seen(PaymentState::Authorizing) || seen(PaymentState::AwaitingDevice));
                }
                if matches!(state, PaymentState::Voided | PaymentState::Refunded | PaymentState::PartiallyRefunded) {
                    prop_assert!(seen(PaymentState::Completed));
                }
                if state == PaymentState::Reversed {
                    prop_assert!(seen(PaymentState::Approved) || seen(PaymentState::InDoubt));
                }
                if method == Method::Cash {
                    prop_assert!(!seen(PaymentState::InDoubt) && !seen(PaymentState::Authorizing));
                }
            }
        }

        #[test]
        fn terminal_states_absorb(method in any_method(), from in any_state(), to in any_state()) {
            if from.is_terminal(method) {
                prop_assert!(from.transition(to, method).is_err());
            }
        }
    }
}
