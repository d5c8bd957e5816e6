//! The end-of-day totals in BMP `60`: ZVT's individual totals (PROTOCOLS.md §3).
//!
//! The value (LLLVAR, 53 bytes) is the receipt number of the period's first and of its last
//! receipt (2 BCD each), then seven card slots in ZVT's order ([`TotalsSlot::ALL`]: girocard/EC,
//! JCB, Eurocard/Mastercard, American Express, VISA, Diners, remaining), each a count (1 byte,
//! binary) and a turnover (6 BCD, yen). The status information that carries it also carries
//! BMP `04`, the grand total, which equals the sum of the turnovers. This city's brands without a
//! slot of their own (UnionPay, every e-money brand) are counted under "remaining"; the terminal
//! prints the per-brand detail.
//!
//! The codec here reads no clock and does no I/O; [`IndividualTotals::decode`] never panics and
//! names the offset of what it could not read (it is fuzzed with the other ZVT decoders).

use pos_core::api::{SlotTotal as ApiSlotTotal, TerminalTotals, TotalsSlot};
use pos_core::{Brand, Yen};

use super::bcd;
use super::commands::fields::{amount_to_bcd, ReceiptNumber};
use super::EncodeError;

/// Bytes of BMP 60's value.
pub const VALUE_BYTES: usize = 53;
/// Bytes of one slot: a count and a 6-byte BCD turnover.
pub const SLOT_BYTES: usize = 7;
/// The largest count a slot carries (one binary byte). A terminal with more payments in a slot
/// reports this many; the turnover stays exact.
pub const SLOT_COUNT_MAX: u32 = 255;

/// One slot: payments counted and their turnover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SlotTotal {
    pub count: u8,
    pub turnover: Yen,
}

/// BMP 60 as ZVT lays it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IndividualTotals {
    pub receipt_first: ReceiptNumber,
    pub receipt_last: ReceiptNumber,
    /// In [`TotalsSlot::ALL`] order.
    pub slots: [SlotTotal; 7],
}

/// Why BMP 60 (with the grand total beside it) is not totals. Offsets count from the first byte
/// of BMP 60's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TotalsError {
    #[error("BMP 60 holds {length} bytes; individual totals are exactly {VALUE_BYTES}")]
    WrongLength { length: usize },
    #[error("BMP 60 byte {offset} ({what}) is {byte:#04x}, which is not two BCD digits")]
    NotBcd { what: &'static str, offset: usize, byte: u8 },
    #[error("the end of day's status information carries BMP 60 but no grand total (BMP 04)")]
    GrandTotalMissing,
    #[error("the slot turnovers add up to {sum}, but the grand total (BMP 04) is {grand}")]
    GrandTotalMismatch { sum: Yen, grand: Yen },
    #[error("the slot turnovers add up to more than an amount can hold")]
    SumOutOfRange,
}

/// The ZVT slot a brand's payments are counted in.
pub fn slot_of(brand: Brand) -> TotalsSlot {
    TotalsSlot::of(brand)
}

fn index_of(slot: TotalsSlot) -> usize {
    TotalsSlot::ALL.iter().position(|candidate| *candidate == slot).unwrap_or(TotalsSlot::ALL.len() - 1)
}

impl IndividualTotals {
    pub fn slot(&self, slot: TotalsSlot) -> SlotTotal {
        self.slots[index_of(slot)]
    }

    pub fn slot_mut(&mut self, slot: TotalsSlot) -> &mut SlotTotal {
        &mut self.slots[index_of(slot)]
    }

    /// The sum of the turnovers: what BMP 04 must say.
    pub fn turnover_total(&self) -> Result<Yen, TotalsError> {
        Yen::checked_sum(self.slots.iter().map(|slot| slot.turnover)).map_err(|_| TotalsError::SumOutOfRange)
    }

    /// Checks the grand total the terminal sent beside BMP 60.
    pub fn check_grand_total(&self, grand: Option<Yen>) -> Result<(), TotalsError> {
        let grand = grand.ok_or(TotalsError::GrandTotalMissing)?;
        let sum = self.turnover_total()?;
        if sum == grand {
            Ok(())
        } else {
            Err(TotalsError::GrandTotalMismatch { sum, grand })
        }
    }

    pub fn decode(value: &[u8]) -> Result<IndividualTotals, TotalsError> {
        if value.len() != VALUE_BYTES {
            return Err(TotalsError::WrongLength { length: value.len() });
        }
        let receipt = |offset: usize, what| -> Result<ReceiptNumber, TotalsError> {
            let number = decode_bcd(&value[offset..offset + 2], offset, what)?;
            // Two BCD bytes are at most 9,999, which is what a receipt number holds.
            Ok(ReceiptNumber::new(u16::try_from(number).unwrap_or(u16::MAX)).unwrap_or_default())
        };
        let mut totals = IndividualTotals {
            receipt_first: receipt(0, "first receipt number")?,
            receipt_last: receipt(2, "last receipt number")?,
            slots: [SlotTotal::default(); 7],
        };
        for (index, slot) in totals.slots.iter_mut().enumerate() {
            let offset = 4 + index * SLOT_BYTES;
            let turnover = decode_bcd(&value[offset + 1..offset + SLOT_BYTES], offset + 1, "turnover")?;
            // Six BCD bytes are at most 999,999,999,999, within an amount's range.
            let turnover =
                Yen::new(i64::try_from(turnover).unwrap_or(i64::MAX)).map_err(|_| TotalsError::SumOutOfRange)?;
            *slot = SlotTotal { count: value[offset], turnover };
        }
        Ok(totals)
    }

    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        let mut value = Vec::with_capacity(VALUE_BYTES);
        value.extend(self.receipt_first.to_bcd());
        value.extend(self.receipt_last.to_bcd());
        for slot in &self.slots {
            value.push(slot.count);
            value.extend(amount_to_bcd(slot.turnover)?);
        }
        debug_assert_eq!(value.len(), VALUE_BYTES);
        Ok(value)
    }

    /// The API's view, with the grand total.
    pub fn to_api(&self) -> Result<TerminalTotals, TotalsError> {
        Ok(TerminalTotals {
            receipt_first: u32::from(self.receipt_first.get()),
            receipt_last: u32::from(self.receipt_last.get()),
            slots: TotalsSlot::ALL
                .iter()
                .zip(&self.slots)
                .map(|(slot, total)| ApiSlotTotal {
                    slot: *slot,
                    count: u32::from(total.count),
                    turnover: total.turnover,
                })
                .collect(),
            total: self.turnover_total()?,
        })
    }
}

fn decode_bcd(bytes: &[u8], offset: usize, what: &'static str) -> Result<u64, TotalsError> {
    bcd::decode_number(bytes).map_err(|error| match error {
        bcd::BcdError::InvalidDigit { index, byte } => TotalsError::NotBcd { what, offset: offset + index, byte },
        // The callers hand in 2 or 6 bytes, well within what a number holds.
        _ => TotalsError::NotBcd { what, offset, byte: bytes.first().copied().unwrap_or_default() },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yen(amount: i64) -> Yen {
        Yen::new(amount).unwrap()
    }

    fn example() -> IndividualTotals {
        let mut totals = IndividualTotals {
            receipt_first: ReceiptNumber::new(12).unwrap(),
            receipt_last: ReceiptNumber::new(15).unwrap(),
            ..IndividualTotals::default()
        };
        *totals.slot_mut(TotalsSlot::Jcb) = SlotTotal { count: 1, turnover: yen(300) };
        *totals.slot_mut(TotalsSlot::Visa) = SlotTotal { count: 2, turnover: yen(2_080) };
        *totals.slot_mut(TotalsSlot::Other) = SlotTotal { count: 1, turnover: yen(600) };
        totals
    }

    #[test]
    fn the_layout_byte_for_byte() {
        let bytes = example().encode().unwrap();
        let mut expected = vec![0x00, 0x12, 0x00, 0x15];
        expected.extend([0x00, 0, 0, 0, 0, 0, 0]); // girocard
        expected.extend([0x01, 0, 0, 0, 0, 0x03, 0x00]); // JCB 300
        expected.extend([0x00, 0, 0, 0, 0, 0, 0]); // Mastercard
        expected.extend([0x00, 0, 0, 0, 0, 0, 0]); // AMEX
        expected.extend([0x02, 0, 0, 0, 0, 0x20, 0x80]); // VISA 2,080
        expected.extend([0x00, 0, 0, 0, 0, 0, 0]); // Diners
        expected.extend([0x01, 0, 0, 0, 0, 0x06, 0x00]); // remaining 600
        assert_eq!(bytes, expected);
        assert_eq!(bytes.len(), VALUE_BYTES);
        assert_eq!(IndividualTotals::decode(&bytes).unwrap(), example());
    }

    #[test]
    fn the_grand_total_must_match() {
        let totals = example();
        assert_eq!(totals.turnover_total().unwrap(), yen(2_980));
        assert!(totals.check_grand_total(Some(yen(2_980))).is_ok());
        assert_eq!(
            totals.check_grand_total(Some(yen(2_981))),
            Err(TotalsError::GrandTotalMismatch { sum: yen(2_980), grand: yen(2_981) })
        );
        assert_eq!(totals.check_grand_total(None), Err(TotalsError::GrandTotalMissing));
        let api = totals.to_api().unwrap();
        assert_eq!(api.total, yen(2_980));
        assert_eq!(api.slots.len(), 7);
        assert_eq!(api.slots[4].slot, TotalsSlot::Visa);
        assert_eq!(api.slots[4].count, 2);
    }

    #[test]
    fn bad_values_are_named() {
        assert_eq!(IndividualTotals::decode(b"JCB,1,300"), Err(TotalsError::WrongLength { length: 9 }));
        let mut bytes = example().encode().unwrap();
        bytes[4 + 4 * SLOT_BYTES + 3] = 0x1A;
        assert_eq!(
            IndividualTotals::decode(&bytes),
            Err(TotalsError::NotBcd { what: "turnover", offset: 4 + 4 * SLOT_BYTES + 3, byte: 0x1A })
        );
        bytes[1] = 0xF0;
        assert_eq!(
            IndividualTotals::decode(&bytes),
            Err(TotalsError::NotBcd { what: "first receipt number", offset: 1, byte: 0xF0 })
        );
    }

    #[test]
    fn brands_go_to_their_slots() {
        assert_eq!(slot_of(Brand::Visa), TotalsSlot::Visa);
        assert_eq!(slot_of(Brand::Mastercard), TotalsSlot::Mastercard);
        assert_eq!(slot_of(Brand::Amex), TotalsSlot::AmericanExpress);
        assert_eq!(slot_of(Brand::UnionPay), TotalsSlot::Other);
        assert_eq!(slot_of(Brand::Nanaco), TotalsSlot::Other);
    }
}
