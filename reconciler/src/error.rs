//! Why a day could not be reconciled at all (as opposed to the exceptions a reconciled day lists).

use pos_core::{Brand, FacilityId, MoneyError};

use crate::calendar::CalendarError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReconcileError {
    #[error("facility {0} is not in the configuration")]
    UnknownFacility(FacilityId),
    #[error("no acquirer in the configuration has a contracted fee for brand {0}")]
    NoContract(Brand),
    #[error("the journal given is for {found}, not for {expected}")]
    WrongJournal { expected: String, found: String },
    #[error("amount overflow in {what}: {source}")]
    Money {
        what: &'static str,
        #[source]
        source: MoneyError,
    },
    #[error(transparent)]
    Calendar(#[from] CalendarError),
}

/// Adds two amounts, naming what was being summed if the sum overflows.
pub(crate) fn add(
    left: pos_core::Yen,
    right: pos_core::Yen,
    what: &'static str,
) -> Result<pos_core::Yen, ReconcileError> {
    left.checked_add(right).map_err(|source| ReconcileError::Money { what, source })
}

/// Sums amounts, naming what was being summed if the sum overflows.
pub(crate) fn sum<I: IntoIterator<Item = pos_core::Yen>>(
    items: I,
    what: &'static str,
) -> Result<pos_core::Yen, ReconcileError> {
    pos_core::Yen::checked_sum(items).map_err(|source| ReconcileError::Money { what, source })
}

/// Subtracts, naming what was being computed if it overflows.
pub(crate) fn subtract(
    left: pos_core::Yen,
    right: pos_core::Yen,
    what: &'static str,
) -> Result<pos_core::Yen, ReconcileError> {
    left.checked_sub(right).map_err(|source| ReconcileError::Money { what, source })
}
