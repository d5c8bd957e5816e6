//! Fault injection: what the simulator does wrong, to which messages, how many times.
//!
//! The plan list is consulted once per decoded request, in list order; the first plan whose
//! [`MessageKind`] matches and whose count is not used up applies, and its count goes down by
//! one. Every fault except [`Fault::Delay`]'s timing happens *after* the request was processed as
//! the acquirer would (an approval is booked), because that is the case the gateway must
//! recover from: the acquirer acted and the gateway does not know.

use std::fmt;
use std::str::FromStr;

use iso8583::{fields, Message, Mti};

use crate::error::SimError;

/// The longest delay a fault may impose, so a typo cannot park a task for days.
pub const FAULT_DELAY_MS_MAX: u64 = 600_000;
/// The most plans held at once; `SimulatorHandle::set_faults` keeps the first ones.
pub const FAULT_PLANS_MAX: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Refuse the request without acting on it, answering field 39 with this two-character code
    /// (e.g. a reversal answered `96`: the original stands).
    AnswerCode { code: [u8; 2] },
    /// Wait, then answer normally (a slow acquirer, within the client's deadline).
    Delay { ms: u64 },
    /// Book, never answer.
    NoAnswer,
    /// Book, then close the connection without answering (other answers pending on that
    /// connection are lost too).
    DropConnection,
    /// Book, then send a frame of random bytes that do not decode instead of the answer.
    Garbage,
    /// Answer twice.
    DuplicateAnswer,
    /// Book, answer after `ms` (meant to be after the client's deadline: a late approval).
    LateAnswer { ms: u64 },
}

impl Fault {
    pub fn name(self) -> &'static str {
        match self {
            Fault::Delay { .. } => "delay",
            Fault::NoAnswer => "no-answer",
            Fault::DropConnection => "drop",
            Fault::Garbage => "garbage",
            Fault::DuplicateAnswer => "duplicate",
            Fault::LateAnswer { .. } => "late",
            Fault::AnswerCode { .. } => "answer",
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Delay { ms } | Fault::LateAnswer { ms } => write!(f, "{}:{ms}", self.name()),
            Fault::AnswerCode { code } => write!(f, "answer:{}", String::from_utf8_lossy(code)),
            other => f.write_str(other.name()),
        }
    }
}

/// Which requests a plan applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// 0200 with a processing code other than a refund's.
    Purchase,
    /// 0200 with processing code `20xxxx`.
    Refund,
    /// 0400 and its repeat 0401.
    Reversal,
    /// 0800.
    Network,
    Any,
}

impl MessageKind {
    /// The kind of a request; `None` for message types the simulator does not serve (only
    /// [`MessageKind::Any`] matches those).
    pub fn of(message: &Message) -> Option<MessageKind> {
        match message.mti {
            Mti::FINANCIAL_REQUEST => {
                let refund = message.text(fields::PROCESSING_CODE).is_some_and(|code| code.starts_with("20"));
                Some(if refund { MessageKind::Refund } else { MessageKind::Purchase })
            }
            Mti::REVERSAL_REQUEST | Mti::REVERSAL_REPEAT => Some(MessageKind::Reversal),
            Mti::NETWORK_REQUEST => Some(MessageKind::Network),
            _ => None,
        }
    }

    pub fn matches(self, actual: Option<MessageKind>) -> bool {
        self == MessageKind::Any || actual == Some(self)
    }

    pub fn name(self) -> &'static str {
        match self {
            MessageKind::Purchase => "purchase",
            MessageKind::Refund => "refund",
            MessageKind::Reversal => "reversal",
            MessageKind::Network => "network",
            MessageKind::Any => "any",
        }
    }
}

impl FromStr for MessageKind {
    type Err = String;
    fn from_str(s: &str) -> Result<MessageKind, String> {
        [MessageKind::Purchase, MessageKind::Refund, MessageKind::Reversal, MessageKind::Network, MessageKind::Any]
            .into_iter()
            .find(|kind| kind.name() == s)
            .ok_or_else(|| format!("unknown message kind {s:?} (expected purchase, refund, reversal, network or any)"))
    }
}

/// One fault, the requests it applies to, and how many times (`None`: every matching request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultPlan {
    pub fault: Fault,
    pub applies_to: MessageKind,
    pub times: Option<u32>,
}

impl FaultPlan {
    pub fn always(fault: Fault, applies_to: MessageKind) -> FaultPlan {
        FaultPlan { fault, applies_to, times: None }
    }

    pub fn times(fault: Fault, applies_to: MessageKind, times: u32) -> FaultPlan {
        FaultPlan { fault, applies_to, times: Some(times) }
    }
}

impl FromStr for FaultPlan {
    type Err = SimError;

    /// `KIND[:ms|code][:kind][:times]`, e.g. `delay:500`, `late:3000:purchase:1`, `no-answer:purchase`,
    /// `garbage:any:2`, `answer:96:reversal`. `ms` is required for `delay` and `late`, a
    /// two-character response code for `answer`, and neither is allowed for the others;
    /// `kind` defaults to `any` and `times` to every matching request; no part may be empty.
    fn from_str(text: &str) -> Result<FaultPlan, SimError> {
        let refuse = |reason: String| SimError::FaultPlan { text: text.to_string(), reason };
        let mut parts = text.split(':');
        let name = parts.next().unwrap_or_default();
        let mut next_ms = || -> Result<u64, SimError> {
            let part = parts.next().ok_or_else(|| refuse(format!("{name} needs a duration in ms")))?;
            let ms = part.parse::<u64>().map_err(|_| refuse(format!("{part:?} is not a whole number of ms")))?;
            if ms > FAULT_DELAY_MS_MAX {
                return Err(refuse(format!("{ms} ms exceeds the limit of {FAULT_DELAY_MS_MAX} ms")));
            }
            Ok(ms)
        };
        let fault = match name {
            "delay" => Fault::Delay { ms: next_ms()? },
            "late" => Fault::LateAnswer { ms: next_ms()? },
            "no-answer" => Fault::NoAnswer,
            "drop" => Fault::DropConnection,
            "garbage" => Fault::Garbage,
            "duplicate" => Fault::DuplicateAnswer,
            "answer" => {
                let code =
                    parts.next().ok_or_else(|| refuse("answer needs a response code, e.g. answer:96".to_string()))?;
                let bytes: [u8; 2] = code
                    .as_bytes()
                    .try_into()
                    .ok()
                    .filter(|b: &[u8; 2]| b.iter().all(u8::is_ascii_alphanumeric))
                    .ok_or_else(|| refuse(format!("{code:?} is not a two-character response code")))?;
                Fault::AnswerCode { code: bytes }
            }
            other => {
                return Err(refuse(format!(
                    "unknown fault {other:?} (expected delay, late, no-answer, drop, garbage, duplicate or answer)"
                )))
            }
        };
        let applies_to = match parts.next() {
            Some(kind) => kind.parse::<MessageKind>().map_err(refuse)?,
            None => MessageKind::Any,
        };
        let times = match parts.next() {
            Some(count) => Some(count.parse::<u32>().map_err(|_| refuse(format!("{count:?} is not a count")))?),
            None => None,
        };
        if let Some(extra) = parts.next() {
            return Err(refuse(format!("unexpected {extra:?} after the count")));
        }
        Ok(FaultPlan { fault, applies_to, times })
    }
}

/// The current plans, consulted per request.
#[derive(Debug, Default)]
pub(crate) struct FaultBook {
    plans: Vec<FaultPlan>,
}

impl FaultBook {
    pub(crate) fn replace(&mut self, mut plans: Vec<FaultPlan>) {
        if plans.len() > FAULT_PLANS_MAX {
            tracing::warn!(given = plans.len(), kept = FAULT_PLANS_MAX, "too many fault plans: the rest are ignored");
            plans.truncate(FAULT_PLANS_MAX);
        }
        self.plans = plans;
    }

    /// The fault for a request of this kind, if any plan applies; uses up one of its times.
    pub(crate) fn take(&mut self, kind: Option<MessageKind>) -> Option<Fault> {
        let plan = self
            .plans
            .iter_mut()
            .find(|plan| plan.applies_to.matches(kind) && plan.times.is_none_or(|times| times > 0))?;
        if let Some(times) = plan.times.as_mut() {
            *times -= 1;
        }
        Some(plan.fault)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_command_line_form() {
        assert_eq!(
            "delay:500".parse::<FaultPlan>().unwrap(),
            FaultPlan::always(Fault::Delay { ms: 500 }, MessageKind::Any)
        );
        assert_eq!(
            "late:3000:purchase:1".parse::<FaultPlan>().unwrap(),
            FaultPlan::times(Fault::LateAnswer { ms: 3000 }, MessageKind::Purchase, 1)
        );
        assert_eq!(
            "no-answer:reversal".parse::<FaultPlan>().unwrap(),
            FaultPlan::always(Fault::NoAnswer, MessageKind::Reversal)
        );
        assert_eq!(
            "garbage:any:2".parse::<FaultPlan>().unwrap(),
            FaultPlan::times(Fault::Garbage, MessageKind::Any, 2)
        );
        assert_eq!(
            "answer:96:reversal".parse::<FaultPlan>().unwrap(),
            FaultPlan::always(Fault::AnswerCode { code: *b"96" }, MessageKind::Reversal)
        );
        assert_eq!(Fault::AnswerCode { code: *b"12" }.to_string(), "answer:12");
        for bad in [
            "delay",
            "delay:x",
            "late:999999999",
            "explode",
            "drop:purchase:1:2",
            "drop:sometimes",
            "drop:any:-1",
            "answer",
            "answer:960",
            "answer:9 ",
        ] {
            assert!(bad.parse::<FaultPlan>().is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn first_matching_plan_applies_and_counts_down() {
        let mut book = FaultBook::default();
        book.replace(vec![
            FaultPlan::times(Fault::NoAnswer, MessageKind::Purchase, 1),
            FaultPlan::always(Fault::DuplicateAnswer, MessageKind::Any),
        ]);
        assert_eq!(book.take(Some(MessageKind::Network)), Some(Fault::DuplicateAnswer));
        assert_eq!(book.take(Some(MessageKind::Purchase)), Some(Fault::NoAnswer));
        assert_eq!(book.take(Some(MessageKind::Purchase)), Some(Fault::DuplicateAnswer));
        book.replace(vec![FaultPlan::times(Fault::Garbage, MessageKind::Refund, 0)]);
        assert_eq!(book.take(Some(MessageKind::Refund)), None);
        assert_eq!(book.take(None), None);
    }

    #[test]
    fn kinds_follow_mti_and_processing_code() {
        let refund = Message::new(Mti::FINANCIAL_REQUEST).with(fields::PROCESSING_CODE, fields::PROCESSING_REFUND);
        let purchase = Message::new(Mti::FINANCIAL_REQUEST).with(fields::PROCESSING_CODE, fields::PROCESSING_PURCHASE);
        assert_eq!(MessageKind::of(&refund), Some(MessageKind::Refund));
        assert_eq!(MessageKind::of(&purchase), Some(MessageKind::Purchase));
        assert_eq!(MessageKind::of(&Message::new(Mti::REVERSAL_REPEAT)), Some(MessageKind::Reversal));
        assert_eq!(MessageKind::of(&Message::new(Mti::AUTHORIZATION_REQUEST)), None);
        assert!(MessageKind::Any.matches(None));
        assert!(!MessageKind::Purchase.matches(None));
    }
}
