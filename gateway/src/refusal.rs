//! Why a request was refused, as the payments module and the access rules say it: a kind, a
//! stable code, a sentence for the person, and the field it is about. The HTTP layer turns a
//! [`Refusal`] into its status and JSON error body; nothing here knows about HTTP.

/// What kind of refusal: maps to one HTTP status each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    /// The request itself is wrong (a field out of bounds, a rule of the brand).
    Unprocessable,
    /// The request conflicts with the state things are in (a payment pending, a day closed).
    Conflict,
    NotFound,
    Forbidden,
    /// The journal could not be read or written.
    Unavailable,
    /// Something that must not happen happened.
    Internal,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub kind: RefusalKind,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
}

impl Refusal {
    pub fn new(kind: RefusalKind, code: &'static str, message: impl Into<String>) -> Refusal {
        Refusal { kind, code, message: message.into(), field: None }
    }

    pub fn at(mut self, field: impl Into<String>) -> Refusal {
        self.field = Some(field.into());
        self
    }

    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Refusal {
        Refusal::new(RefusalKind::Unprocessable, code, message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Refusal {
        Refusal::new(RefusalKind::Conflict, code, message)
    }

    pub fn not_found(what: &str, id: &str) -> Refusal {
        Refusal::new(RefusalKind::NotFound, "not_found", format!("{what} {id:?} does not exist"))
    }

    pub fn forbidden(message: impl Into<String>) -> Refusal {
        Refusal::new(RefusalKind::Forbidden, "forbidden", message)
    }

    pub fn internal(message: impl Into<String>) -> Refusal {
        Refusal::new(RefusalKind::Internal, "internal", message)
    }
}

impl From<crate::journal::JournalError> for Refusal {
    fn from(error: crate::journal::JournalError) -> Refusal {
        // The detail goes to the log; the caller learns only that the journal failed, so no
        // internal value can leak through an error message.
        tracing::error!(%error, "journal error");
        Refusal::new(
            RefusalKind::Unavailable,
            "journal_unavailable",
            "the journal could not be written or read; repeat the request with the same Idempotency-Key (it is never applied twice)",
        )
    }
}

impl From<crate::journal::lifecycle::LifecycleError> for Refusal {
    fn from(error: crate::journal::lifecycle::LifecycleError) -> Refusal {
        use crate::journal::lifecycle::LifecycleError;
        match error {
            LifecycleError::Journal(error) => error.into(),
            LifecycleError::Illegal(message) => Refusal::conflict("illegal_transition", message),
            stale @ LifecycleError::Stale { .. } => Refusal::conflict("changed_meanwhile", stale.to_string()),
            open @ LifecycleError::ReturnOpen { .. } => Refusal::conflict("money_return_pending", open.to_string()),
            closed @ LifecycleError::ClosedDay(_) => Refusal::conflict("day_closed", closed.to_string()),
        }
    }
}
