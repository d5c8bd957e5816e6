//! The simulator's books: codes and payments (both flows), refunds, and every state change with
//! its instant. All logic here is synchronous and takes the current instant as an argument, so a
//! test drives expiry and the cancel window with a manual clock.
//!
//! A code's expiry is applied lazily: any read or operation first turns a `CREATED` payment whose
//! code has expired into `EXPIRED` (at its expiry instant, not the reading instant).

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use pos_core::Yen;
use qr_protocol::{
    CodeData, CodeType, CreateCodeRequest, CreatePaymentRequest, MerchantPaymentId, MerchantRefundId, Money,
    PaymentDetails, PaymentStatus, RefundDetails, RefundList, RefundRequest, RefundStatus, ResultCode,
};

use crate::api::error::ApiError;

/// The most payments (codes and customer-presented) one merchant may hold.
pub const PAYMENTS_PER_MERCHANT_MAX: usize = 100_000;
/// The most refunds one payment may have.
pub const REFUNDS_PER_PAYMENT_MAX: usize = 100;
/// The largest single amount accepted.
pub const AMOUNT_YEN_MAX: i64 = 10_000_000;
/// Length of a customer's barcode (`userCode`) in the customer-presented flow.
pub const USER_CODE_DIGITS: usize = 18;
/// A customer-presented payment of exactly this amount is declined `INSUFFICIENT_BALANCE`.
pub const DECLINED_AMOUNT_YEN: i64 = 9051;
/// A `userCode` starting with this prefix is declined `INVALID_USER_CODE` (an expired barcode).
pub const EXPIRED_USER_CODE_PREFIX: &str = "99";
/// Cancels are accepted until this time of day (JST) of the day after the payment.
pub fn cancel_deadline_time() -> NaiveTime {
    NaiveTime::from_hms_opt(0, 14, 59).unwrap_or_else(|| unreachable!("constant time"))
}

/// How a payment came about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flow {
    /// The counter showed a code (`POST /v2/codes`) and the customer scanned it.
    MerchantPresented { code_id: String },
    /// The counter scanned the customer's barcode (`POST /v2/payments`).
    CustomerPresented { user_code: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRecord {
    pub merchant_id: String,
    pub merchant_payment_id: MerchantPaymentId,
    pub flow: Flow,
    pub amount: Yen,
    pub order_description: Option<String>,
    pub requested_at: Option<i64>,
    pub created_at: DateTime<Utc>,
    /// When the code stops being payable (merchant-presented only).
    pub expires_at: Option<DateTime<Utc>>,
    pub status: PaymentStatus,
    /// The provider's payment id (`決済番号`), once paid (or declined, customer-presented).
    pub payment_id: Option<String>,
    pub paid_at: Option<DateTime<Utc>>,
    /// When a paid payment was cancelled (`DELETE /v2/payments/{id}`): a 取消 row.
    pub cancelled_at: Option<DateTime<Utc>>,
    /// When the code was withdrawn (`DELETE /v2/codes/{codeId}`).
    pub code_deleted_at: Option<DateTime<Utc>>,
    pub refunded: Yen,
    /// The order of creation, for stable listings.
    pub sequence: u64,
}

impl PaymentRecord {
    pub fn code_id(&self) -> Option<&str> {
        match &self.flow {
            Flow::MerchantPresented { code_id } => Some(code_id),
            Flow::CustomerPresented { .. } => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRecord {
    pub merchant_id: String,
    pub merchant_refund_id: MerchantRefundId,
    pub payment_id: String,
    pub merchant_payment_id: MerchantPaymentId,
    pub amount: Yen,
    pub requested_at: i64,
    pub reason: Option<String>,
    pub accepted_at: DateTime<Utc>,
    pub sequence: u64,
}

/// What the simulator knows. Indexes are positions in `payments` / `refunds`, which only grow.
#[derive(Debug, Default)]
pub struct Ledger {
    payments: Vec<PaymentRecord>,
    by_merchant_payment_id: HashMap<(String, MerchantPaymentId), usize>,
    by_code_id: HashMap<String, usize>,
    by_payment_id: HashMap<String, usize>,
    payments_per_merchant: HashMap<String, usize>,
    refunds: Vec<RefundRecord>,
    by_merchant_refund_id: HashMap<(String, MerchantRefundId), usize>,
    sequence: u64,
}

fn epoch(at: DateTime<Utc>) -> i64 {
    at.timestamp()
}

fn positive_amount(money: Money) -> Result<Yen, ApiError> {
    let amount = money.amount;
    if amount.get() <= 0 || amount.get() > AMOUNT_YEN_MAX {
        return Err(ApiError::invalid_params(format!("amount.amount must be 1..={AMOUNT_YEN_MAX}")));
    }
    Ok(amount)
}

/// The last instant a payment that happened at `at` may be cancelled: 00:14:59 JST the next day.
pub fn cancel_deadline(at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let jst = pos_core::time::jst();
    let next_day = at.with_timezone(&jst).date_naive().succ_opt()?;
    let deadline = jst.from_local_datetime(&next_day.and_time(cancel_deadline_time())).single()?;
    Some(deadline.with_timezone(&Utc) + Duration::milliseconds(999))
}

impl Ledger {
    fn next_sequence(&mut self) -> u64 {
        self.sequence += 1;
        self.sequence
    }

    fn refresh_at(&mut self, index: usize, now: DateTime<Utc>) {
        if let Some(payment) = self.payments.get_mut(index) {
            if payment.status == PaymentStatus::Created && payment.expires_at.is_some_and(|expiry| now >= expiry) {
                payment.status = PaymentStatus::Expired;
            }
        }
    }

    fn find(&mut self, merchant: &str, id: &MerchantPaymentId, now: DateTime<Utc>) -> Option<usize> {
        let index = *self.by_merchant_payment_id.get(&(merchant.to_string(), id.clone()))?;
        self.refresh_at(index, now);
        Some(index)
    }

    fn admit(&mut self, merchant: &str, id: &MerchantPaymentId, duplicate: ResultCode) -> Result<(), ApiError> {
        if self.by_merchant_payment_id.contains_key(&(merchant.to_string(), id.clone())) {
            return Err(ApiError::new(duplicate, format!("merchantPaymentId {id} was already used")));
        }
        if self.payments_per_merchant.get(merchant).copied().unwrap_or(0) >= PAYMENTS_PER_MERCHANT_MAX {
            return Err(ApiError::new(
                ResultCode::ServiceUnavailable,
                format!("the simulator holds {PAYMENTS_PER_MERCHANT_MAX} payments for this merchant"),
            ));
        }
        Ok(())
    }

    fn insert(&mut self, record: PaymentRecord) -> usize {
        let index = self.payments.len();
        self.by_merchant_payment_id.insert((record.merchant_id.clone(), record.merchant_payment_id.clone()), index);
        if let Some(code_id) = record.code_id() {
            self.by_code_id.insert(code_id.to_string(), index);
        }
        if let Some(payment_id) = &record.payment_id {
            self.by_payment_id.insert(payment_id.clone(), index);
        }
        *self.payments_per_merchant.entry(record.merchant_id.clone()).or_default() += 1;
        self.payments.push(record);
        index
    }

    fn new_payment_id(&mut self, index: usize) -> String {
        let payment_id = format!("04{:018}", self.next_sequence());
        self.by_payment_id.insert(payment_id.clone(), index);
        payment_id
    }

    /// `POST /v2/codes`.
    pub fn create_code(
        &mut self,
        merchant: &str,
        request: CreateCodeRequest,
        now: DateTime<Utc>,
        expiry_seconds: u32,
        payment_url_base: &str,
    ) -> Result<CodeData, ApiError> {
        let amount = positive_amount(request.amount)?;
        self.admit(merchant, &request.merchant_payment_id, ResultCode::DuplicateDynamicQrRequest)?;
        let sequence = self.next_sequence();
        let code_id = format!("04-{sequence:016}");
        let expires_at = now + Duration::seconds(i64::from(expiry_seconds));
        let url = format!("{}/{code_id}", payment_url_base.trim_end_matches('/'));
        let data = CodeData {
            code_id: code_id.clone(),
            deeplink: format!("qrsim://payment?code={code_id}"),
            url,
            expiry_date: epoch(expires_at),
            merchant_payment_id: request.merchant_payment_id.clone(),
            amount: Money::jpy(amount),
            code_type: CodeType::OrderQr,
            order_description: request.order_description.clone(),
            requested_at: request.requested_at,
        };
        self.insert(PaymentRecord {
            merchant_id: merchant.to_string(),
            merchant_payment_id: request.merchant_payment_id,
            flow: Flow::MerchantPresented { code_id },
            amount,
            order_description: request.order_description,
            requested_at: request.requested_at,
            created_at: now,
            expires_at: Some(expires_at),
            status: PaymentStatus::Created,
            payment_id: None,
            paid_at: None,
            cancelled_at: None,
            code_deleted_at: None,
            refunded: Yen::ZERO,
            sequence,
        });
        Ok(data)
    }

    /// `GET /v2/codes/payments/{id}` and `GET /v2/payments/{id}`.
    pub fn payment_details(
        &mut self,
        merchant: &str,
        id: &MerchantPaymentId,
        now: DateTime<Utc>,
    ) -> Result<PaymentDetails, ApiError> {
        let index = self.find(merchant, id, now).ok_or_else(|| not_found(id))?;
        Ok(self.details(index))
    }

    fn details(&self, index: usize) -> PaymentDetails {
        let Some(payment) = self.payments.get(index) else {
            unreachable!("indexes come from the ledger's own maps");
        };
        let refunds: Vec<RefundDetails> = self
            .refunds
            .iter()
            .filter(|refund| Some(&refund.payment_id) == payment.payment_id.as_ref())
            .map(refund_details)
            .collect();
        PaymentDetails {
            payment_id: payment.payment_id.clone(),
            status: payment.status.clone(),
            accepted_at: payment.paid_at.map(epoch),
            merchant_payment_id: payment.merchant_payment_id.clone(),
            amount: Money::jpy(payment.amount),
            requested_at: payment.requested_at,
            order_description: payment.order_description.clone(),
            code_id: payment.code_id().map(str::to_string),
            store_id: None,
            refunds: (!refunds.is_empty()).then_some(RefundList { data: refunds }),
        }
    }

    /// `DELETE /v2/codes/{codeId}`. With `paid_after_cancel` the customer's payment lands at the
    /// same instant: the code is withdrawn but the payment is `COMPLETED`.
    pub fn delete_code(
        &mut self,
        merchant: &str,
        code_id: &str,
        now: DateTime<Utc>,
        paid_after_cancel: bool,
    ) -> Result<(), ApiError> {
        let unknown = || ApiError::new(ResultCode::DynamicQrNotFound, format!("no code {code_id}"));
        let index = *self.by_code_id.get(code_id).ok_or_else(unknown)?;
        self.refresh_at(index, now);
        let payment = self.payments.get(index).ok_or_else(unknown)?;
        if payment.merchant_id != merchant {
            return Err(unknown());
        }
        if payment.code_deleted_at.is_some() {
            return Ok(());
        }
        if payment.status.is_paid() {
            return Err(ApiError::new(ResultCode::DynamicQrAlreadyPaid, "the code was already paid"));
        }
        if paid_after_cancel && payment.status == PaymentStatus::Created {
            self.mark_paid(index, now);
        } else if payment.status == PaymentStatus::Created {
            if let Some(payment) = self.payments.get_mut(index) {
                payment.status = PaymentStatus::Canceled;
            }
        }
        if let Some(payment) = self.payments.get_mut(index) {
            payment.code_deleted_at = Some(now);
        }
        Ok(())
    }

    fn mark_paid(&mut self, index: usize, now: DateTime<Utc>) {
        let payment_id = self.new_payment_id(index);
        if let Some(payment) = self.payments.get_mut(index) {
            payment.status = PaymentStatus::Completed;
            payment.payment_id = Some(payment_id);
            payment.paid_at = Some(now);
        }
    }

    /// `DELETE /v2/payments/{id}`: accepted (the payment reads `FAILED`) for a payment not yet
    /// paid or paid no earlier than the day before, until 00:14:59 JST; refused after that or
    /// once refunded. Repeating an accepted cancel is accepted again.
    pub fn cancel_payment(
        &mut self,
        merchant: &str,
        id: &MerchantPaymentId,
        now: DateTime<Utc>,
    ) -> Result<(), ApiError> {
        let index = self.find(merchant, id, now).ok_or_else(|| not_found(id))?;
        let Some(payment) = self.payments.get_mut(index) else { return Err(not_found(id)) };
        match payment.status {
            PaymentStatus::Completed if payment.refunded == Yen::ZERO => {
                let happened = payment.paid_at.unwrap_or(payment.created_at);
                if cancel_deadline(happened).is_none_or(|deadline| now > deadline) {
                    return Err(ApiError::new(
                        ResultCode::OrderNotReversible,
                        "the cancel window (00:14:59 JST the next day) has passed; refund instead",
                    ));
                }
                payment.status = PaymentStatus::Failed;
                payment.cancelled_at = Some(now);
                Ok(())
            }
            PaymentStatus::Completed | PaymentStatus::Refunded => {
                Err(ApiError::new(ResultCode::OrderNotReversible, "the payment has refunds; it cannot be cancelled"))
            }
            PaymentStatus::Created => {
                payment.status = PaymentStatus::Failed;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// `POST /v2/payments` (customer-presented): completed at once, or declined and recorded
    /// `FAILED` (the id stays used).
    pub fn create_payment(
        &mut self,
        merchant: &str,
        request: CreatePaymentRequest,
        now: DateTime<Utc>,
    ) -> Result<PaymentDetails, ApiError> {
        let amount = positive_amount(request.amount)?;
        if request.user_code.len() != USER_CODE_DIGITS || !request.user_code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ApiError::invalid_params(format!("userAuthorizationId must be {USER_CODE_DIGITS} digits")));
        }
        self.admit(merchant, &request.merchant_payment_id, ResultCode::DuplicatePaymentRequest)?;
        let decline = if request.user_code.starts_with(EXPIRED_USER_CODE_PREFIX) {
            Some(ApiError::new(ResultCode::InvalidUserCode, "the customer's code has expired"))
        } else if amount.get() == DECLINED_AMOUNT_YEN {
            Some(ApiError::new(ResultCode::InsufficientBalance, "the customer's balance is insufficient"))
        } else {
            None
        };
        let sequence = self.next_sequence();
        let index = self.insert(PaymentRecord {
            merchant_id: merchant.to_string(),
            merchant_payment_id: request.merchant_payment_id,
            flow: Flow::CustomerPresented { user_code: request.user_code },
            amount,
            order_description: request.order_description,
            requested_at: Some(request.requested_at),
            created_at: now,
            expires_at: None,
            status: PaymentStatus::Failed,
            payment_id: None,
            paid_at: None,
            cancelled_at: None,
            code_deleted_at: None,
            refunded: Yen::ZERO,
            sequence,
        });
        if let Some(decline) = decline {
            return Err(decline);
        }
        self.mark_paid(index, now);
        Ok(self.details(index))
    }

    /// `POST /v2/refunds`. A repeated `merchantRefundId` returns the earlier refund unchanged.
    pub fn refund(
        &mut self,
        merchant: &str,
        request: RefundRequest,
        now: DateTime<Utc>,
    ) -> Result<RefundDetails, ApiError> {
        let key = (merchant.to_string(), request.merchant_refund_id.clone());
        if let Some(refund) = self.by_merchant_refund_id.get(&key).and_then(|index| self.refunds.get(*index)) {
            return Ok(refund_details(refund));
        }
        let amount = positive_amount(request.amount)?;
        // PayPay answers a refund of a paymentId it does not know with 404 RESOURCE_NOT_FOUND.
        let unknown = || ApiError::new(ResultCode::ResourceNotFound, format!("no payment {}", request.payment_id));
        let index = *self.by_payment_id.get(&request.payment_id).ok_or_else(unknown)?;
        let payment = self.payments.get(index).ok_or_else(unknown)?;
        if payment.merchant_id != merchant {
            return Err(unknown());
        }
        if !payment.status.is_paid() {
            return Err(ApiError::new(ResultCode::UnacceptableOp, format!("the payment is {}", payment.status)));
        }
        let refundable = payment.amount.checked_sub(payment.refunded).map_err(|_| money_broken())?;
        if amount > refundable {
            return Err(ApiError::invalid_params(format!(
                "amount {} exceeds the refundable {}",
                amount.get(),
                refundable.get()
            )));
        }
        let refunds_so_far = self.refunds.iter().filter(|refund| refund.payment_id == request.payment_id).count();
        if refunds_so_far >= REFUNDS_PER_PAYMENT_MAX {
            return Err(ApiError::invalid_params(format!("at most {REFUNDS_PER_PAYMENT_MAX} refunds per payment")));
        }
        let merchant_payment_id = payment.merchant_payment_id.clone();
        let refunded = payment.refunded.checked_add(amount).map_err(|_| money_broken())?;
        let full = refunded == payment.amount;
        if let Some(payment) = self.payments.get_mut(index) {
            payment.refunded = refunded;
            if full {
                payment.status = PaymentStatus::Refunded;
            }
        }
        let sequence = self.next_sequence();
        let record = RefundRecord {
            merchant_id: merchant.to_string(),
            merchant_refund_id: request.merchant_refund_id,
            payment_id: request.payment_id,
            merchant_payment_id,
            amount,
            requested_at: request.requested_at,
            reason: request.reason,
            accepted_at: now,
            sequence,
        };
        let details = refund_details(&record);
        self.by_merchant_refund_id.insert(key, self.refunds.len());
        self.refunds.push(record);
        Ok(details)
    }

    /// `GET /v2/refunds/{id}`, optionally narrowed to one `paymentId`.
    pub fn refund_of(
        &self,
        merchant: &str,
        id: &MerchantRefundId,
        payment_id: Option<&str>,
    ) -> Result<RefundDetails, ApiError> {
        self.by_merchant_refund_id
            .get(&(merchant.to_string(), id.clone()))
            .and_then(|index| self.refunds.get(*index))
            .filter(|refund| payment_id.is_none_or(|payment_id| refund.payment_id == payment_id))
            .map(refund_details)
            .ok_or_else(|| ApiError::new(ResultCode::NoSuchRefundOrder, format!("no refund {id}")))
    }

    /// A customer pays the code of payment `index` (the library handle's `pay`).
    pub fn pay(&mut self, index: usize, now: DateTime<Utc>) -> Result<PaymentRecord, PayRefusal> {
        self.refresh_at(index, now);
        let payment = self.payments.get(index).ok_or(PayRefusal::Unknown)?;
        if payment.status != PaymentStatus::Created || payment.code_id().is_none() {
            return Err(PayRefusal::NotPayable(payment.status.clone()));
        }
        self.mark_paid(index, now);
        self.payments.get(index).cloned().ok_or(PayRefusal::Unknown)
    }

    /// The customer declines the code `index` (the "decline" button of the customer page): the
    /// payment reads `FAILED` and nothing is charged. Only a payable code can be declined.
    pub fn decline(&mut self, index: usize, now: DateTime<Utc>) -> Result<PaymentRecord, PayRefusal> {
        self.refresh_at(index, now);
        let payment = self.payments.get_mut(index).ok_or(PayRefusal::Unknown)?;
        if payment.status != PaymentStatus::Created || payment.code_id().is_none() {
            return Err(PayRefusal::NotPayable(payment.status.clone()));
        }
        payment.status = PaymentStatus::Failed;
        Ok(payment.clone())
    }

    /// The payment behind code `index`, expiry applied at `now`.
    pub fn record(&mut self, index: usize, now: DateTime<Utc>) -> Option<PaymentRecord> {
        self.refresh_at(index, now);
        self.payments.get(index).cloned()
    }

    /// Indexes of payments with this merchantPaymentId, across merchants.
    pub fn indexes_of(&self, id: &str) -> Vec<usize> {
        let mut found: Vec<usize> = self
            .by_merchant_payment_id
            .iter()
            .filter(|((_, candidate), _)| candidate.as_str() == id)
            .map(|(_, index)| *index)
            .collect();
        found.sort_unstable();
        found
    }

    pub fn index_of_code(&self, code_id: &str) -> Option<usize> {
        self.by_code_id.get(code_id).copied()
    }

    /// Every payment, with expiry applied at `now`.
    pub fn payments(&mut self, now: DateTime<Utc>) -> Vec<PaymentRecord> {
        for index in 0..self.payments.len() {
            self.refresh_at(index, now);
        }
        self.payments.clone()
    }

    pub fn refunds(&self) -> Vec<RefundRecord> {
        self.refunds.clone()
    }
}

/// Why [`Ledger::pay`] did not pay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayRefusal {
    Unknown,
    NotPayable(PaymentStatus),
}

fn not_found(id: &MerchantPaymentId) -> ApiError {
    ApiError::new(ResultCode::DynamicQrPaymentNotFound, format!("no payment with merchantPaymentId {id}"))
}

fn money_broken() -> ApiError {
    ApiError::new(ResultCode::InternalServerError, "amount arithmetic out of range")
}

fn refund_details(refund: &RefundRecord) -> RefundDetails {
    RefundDetails {
        status: RefundStatus::Refunded,
        accepted_at: Some(epoch(refund.accepted_at)),
        merchant_refund_id: refund.merchant_refund_id.clone(),
        payment_id: refund.payment_id.clone(),
        amount: Money::jpy(refund.amount),
        requested_at: refund.requested_at,
        reason: refund.reason.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jst(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn the_cancel_deadline_is_00_14_59_jst_the_next_day() {
        let deadline = cancel_deadline(jst("2026-11-24T23:59:00+09:00")).unwrap();
        assert!(jst("2026-11-25T00:14:59+09:00") <= deadline);
        assert!(jst("2026-11-25T00:15:00+09:00") > deadline);
        // 08:59 JST on the 25th is still the 24th in UTC; the day is Tokyo's.
        let deadline = cancel_deadline(jst("2026-11-25T00:30:00+09:00")).unwrap();
        assert!(jst("2026-11-26T00:14:59+09:00") <= deadline);
        assert!(jst("2026-11-26T00:15:00+09:00") > deadline);
    }
}
