//! Fault injection: what the simulator does wrong, on which endpoint, how many times.
//!
//! Plans are consulted once per authenticated request, in list order; the first plan whose
//! [`Endpoint`] matches and whose count is not used up applies, and its count goes down by one.
//! [`Fault::PaidAfterCancel`] only matches `DELETE /v2/codes/{codeId}`.

/// The longest delay a fault may impose, so a typo cannot park a request for days.
pub const FAULT_DELAY_MS_MAX: u64 = 600_000;
/// The most plans held at once; [`crate::QrSimHandle::set_faults`] keeps the first ones.
pub const FAULT_PLANS_MAX: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Process the request, answer after `ms` (clamped to [`FAULT_DELAY_MS_MAX`]).
    Delay { ms: u64 },
    /// Answer `status` (500–599) with an `INTERNAL_SERVER_ERROR` body; if `processed`, the request
    /// took effect first (the hard case: the client cannot tell).
    ServerError { status: u16, processed: bool },
    /// Process the request and never answer (the connection stays open until shutdown).
    NoAnswer,
    /// Refuse the request without effect: 400 `UNACCEPTABLE_OP` (the provider's business refusal,
    /// e.g. a refund its own rules do not allow).
    Refuse,
    /// On `DELETE /v2/codes/{codeId}`: the customer pays the code just as the merchant withdraws
    /// it. The delete is answered `SUCCESS`, yet the payment reads `COMPLETED`.
    PaidAfterCancel,
    /// Process the request, but answer with the payment's `amount.amount` off by `yen` (a provider
    /// that reports another amount than the one asked: the merchant must not book it).
    MisreportAmount { yen: i64 },
}

/// Which requests a plan applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    CreateCode,
    GetCodePayment,
    DeleteCode,
    CreatePayment,
    GetPayment,
    CancelPayment,
    CreateRefund,
    GetRefund,
    Any,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultPlan {
    pub endpoint: Endpoint,
    pub fault: Fault,
    /// How many requests it applies to.
    pub times: u32,
}

impl FaultPlan {
    pub fn new(endpoint: Endpoint, fault: Fault, times: u32) -> FaultPlan {
        FaultPlan { endpoint, fault, times }
    }

    fn matches(&self, endpoint: Endpoint) -> bool {
        let endpoint_matches = self.endpoint == Endpoint::Any || self.endpoint == endpoint;
        let fault_fits = !matches!(self.fault, Fault::PaidAfterCancel) || endpoint == Endpoint::DeleteCode;
        self.times > 0 && endpoint_matches && fault_fits
    }
}

/// Takes the fault for one request to `endpoint`, using up one of its plan's times.
pub(crate) fn take(plans: &mut [FaultPlan], endpoint: Endpoint) -> Option<Fault> {
    let plan = plans.iter_mut().find(|plan| plan.matches(endpoint))?;
    plan.times -= 1;
    Some(match plan.fault {
        Fault::Delay { ms } => Fault::Delay { ms: ms.min(FAULT_DELAY_MS_MAX) },
        Fault::ServerError { status, processed } => Fault::ServerError { status: status.clamp(500, 599), processed },
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_apply_in_order_and_run_out() {
        let mut plans = vec![
            FaultPlan::new(Endpoint::DeleteCode, Fault::PaidAfterCancel, 1),
            FaultPlan::new(Endpoint::Any, Fault::Delay { ms: u64::MAX }, 2),
        ];
        assert_eq!(take(&mut plans, Endpoint::GetPayment), Some(Fault::Delay { ms: FAULT_DELAY_MS_MAX }));
        assert_eq!(take(&mut plans, Endpoint::DeleteCode), Some(Fault::PaidAfterCancel));
        assert_eq!(take(&mut plans, Endpoint::DeleteCode), Some(Fault::Delay { ms: FAULT_DELAY_MS_MAX }));
        assert_eq!(take(&mut plans, Endpoint::DeleteCode), None);
    }
}
