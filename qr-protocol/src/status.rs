//! Payment and refund statuses as the provider reports them.
//!
//! The provider may add statuses; an unknown one is kept as [`PaymentStatus::Other`] rather than
//! refused, so a client can log it and keep polling instead of failing the whole answer.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! status {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $text:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)*
            /// A status this version does not know, exactly as received.
            Other(String),
        }

        impl $name {
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)*
                    $name::Other(text) => text,
                }
            }

            /// Never fails: an unknown text becomes `Other`.
            pub fn parse(text: &str) -> $name {
                match text {
                    $($text => $name::$variant,)*
                    other => $name::Other(other.to_string()),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<$name, D::Error> {
                let text = String::deserialize(deserializer)?;
                Ok($name::parse(&text))
            }
        }
    };
}

status!(
    /// The status of a payment (`GET /v2/codes/payments/{id}`, `GET /v2/payments/{id}`).
    PaymentStatus {
        /// The code exists and has not been paid yet.
        Created => "CREATED",
        /// Authorized, not yet captured (pre-authorization flows; not used by the counters).
        Authorized => "AUTHORIZED",
        /// Paid.
        Completed => "COMPLETED",
        /// Not paid, or cancelled after payment (`DELETE /v2/payments/{id}`).
        Failed => "FAILED",
        /// The code expired unpaid.
        Expired => "EXPIRED",
        /// Cancelled (some providers report a cancel this way rather than `FAILED`).
        Canceled => "CANCELED",
        /// Refunded in full.
        Refunded => "REFUNDED",
    }
);

impl PaymentStatus {
    /// Whether the status will not change by itself any more (a refund may still follow a
    /// completed payment, but the payment outcome is known).
    pub fn is_final(&self) -> bool {
        !matches!(self, PaymentStatus::Created | PaymentStatus::Authorized | PaymentStatus::Other(_))
    }

    /// Whether money moved from the customer (and was not returned by a cancel).
    pub fn is_paid(&self) -> bool {
        matches!(self, PaymentStatus::Completed | PaymentStatus::Refunded)
    }
}

status!(
    /// The status of a refund.
    RefundStatus {
        Created => "CREATED",
        Refunded => "REFUNDED",
        Failed => "FAILED",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_unknown_statuses_round_trip() {
        for text in ["CREATED", "COMPLETED", "FAILED", "EXPIRED", "CANCELED", "REFUNDED", "AUTHORIZED"] {
            let status: PaymentStatus = serde_json::from_str(&format!("\"{text}\"")).unwrap();
            assert!(!matches!(status, PaymentStatus::Other(_)), "{text}");
            assert_eq!(serde_json::to_string(&status).unwrap(), format!("\"{text}\""));
        }
        let status: PaymentStatus = serde_json::from_str("\"PENDING_SOMETHING\"").unwrap();
        assert_eq!(status, PaymentStatus::Other("PENDING_SOMETHING".into()));
        assert!(!status.is_final());
        assert!(PaymentStatus::Completed.is_paid() && PaymentStatus::Completed.is_final());
    }
}
