//! Acknowledgements: `80 00 00` (positive) and `84 xx 00` (negative, `xx` the error code).
//!
//! Both sides send them: the terminal to accept or refuse a command, the ECR to accept each
//! message the terminal sends as master. A negative acknowledgement ends the dialogue at the ECR:
//! the terminal sends no completion after one.

use super::{CommandError, ControlField};
use crate::zvt::apdu::Apdu;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Acknowledgement {
    Positive,
    Negative { code: u8 },
}

impl Acknowledgement {
    pub fn to_apdu(&self) -> Apdu {
        match self {
            Acknowledgement::Positive => Apdu::empty(0x80, 0x00),
            Acknowledgement::Negative { code } => Apdu::empty(ControlField::NEGATIVE_ACKNOWLEDGEMENT_CLASS, *code),
        }
    }

    pub fn decode(apdu: &Apdu) -> Result<Acknowledgement, CommandError> {
        let control = ControlField::of(apdu);
        let acknowledgement = if control == ControlField::POSITIVE_ACKNOWLEDGEMENT {
            Acknowledgement::Positive
        } else if control.class == ControlField::NEGATIVE_ACKNOWLEDGEMENT_CLASS {
            Acknowledgement::Negative { code: control.instruction }
        } else {
            return Err(CommandError::UnexpectedControlField {
                control,
                expected: "an acknowledgement 80 00 or 84 xx",
            });
        };
        if !apdu.data().is_empty() {
            return Err(CommandError::UnexpectedData {
                message: "acknowledgement",
                offset: apdu.data_offset(),
                count: apdu.data().len(),
            });
        }
        Ok(acknowledgement)
    }
}
