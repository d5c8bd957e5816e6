"""Drives the official PayPay SDK (PyPI paypayopa 1.0.9, unchanged) against a running qr-sim.

Usage: paypay_sdk_interop.py BASE_URL API_KEY API_SECRET RUN_ID

Protocol with the Rust test (tests/it/interop.rs): every step prints one JSON line
{"step": NAME, "response": <the SDK's return value>} on stdout. When the customer must pay, the
script prints {"pay": MERCHANT_PAYMENT_ID} and waits for one line on stdin. The last line is
{"done": true, "version": "1.0.9"}. The SDK prints troubleshooting links on errors; those go to
stderr so stdout stays JSON lines.
"""

import contextlib
import json
import sys
from importlib import metadata

EXPECTED_VERSION = "1.0.9"


def emit(value):
    print(json.dumps(value), flush=True)


def main():
    base_url, api_key, api_secret, run_id = sys.argv[1:5]
    version = metadata.version("paypayopa")
    if version != EXPECTED_VERSION:
        print(f"paypayopa {version} installed, {EXPECTED_VERSION} required", file=sys.stderr)
        return 2
    import paypayopa

    client = paypayopa.Client(auth=(api_key, api_secret), base_url=base_url)

    def step(name, call):
        with contextlib.redirect_stdout(sys.stderr):
            response = call()
        emit({"step": name, "response": response})
        return response

    def pay(merchant_payment_id):
        emit({"pay": merchant_payment_id})
        if sys.stdin.readline().strip() != "paid":
            raise SystemExit("the test did not pay")

    def code_request(merchant_payment_id, amount):
        return {
            "merchantPaymentId": merchant_payment_id,
            "codeType": "ORDER_QR",
            "orderDescription": "住民票の写し",
            "isAuthorization": False,
            "amount": {"amount": amount, "currency": "JPY"},
        }

    paid = f"SDK-{run_id}-A"
    withdrawn = f"SDK-{run_id}-B"
    cancelled = f"SDK-{run_id}-C"

    created = step("create", lambda: client.Code.create_qr_code(code_request(paid, 300)))
    step("create_duplicate", lambda: client.Code.create_qr_code(code_request(paid, 300)))
    step("code_status_created", lambda: client.Code.get_payment_details(paid))

    other = step("create_withdrawn", lambda: client.Code.create_qr_code(code_request(withdrawn, 470)))
    step("delete_code", lambda: client.Code.delete_qr_code(other["data"]["codeId"]))
    step("code_status_withdrawn", lambda: client.Code.get_payment_details(withdrawn))

    pay(paid)
    step("code_status_completed", lambda: client.Code.get_payment_details(paid))
    details = step("payment_details", lambda: client.Payment.get_payment_details(paid))
    payment_id = details["data"]["paymentId"]
    refund = {
        "merchantRefundId": f"SDK-{run_id}-R1",
        "paymentId": payment_id,
        "amount": {"amount": 100, "currency": "JPY"},
        "reason": "partial refund",
    }
    step("refund", lambda: client.Payment.refund_payment(dict(refund)))
    step("refund_repeated", lambda: client.Payment.refund_payment(dict(refund)))
    too_much = dict(refund, merchantRefundId=f"SDK-{run_id}-R2", amount={"amount": 201, "currency": "JPY"})
    step("refund_too_much", lambda: client.Payment.refund_payment(too_much))
    step("refund_details", lambda: client.Payment.refund_details(f"SDK-{run_id}-R1"))
    step("refund_details_unknown", lambda: client.Payment.refund_details(f"SDK-{run_id}-R9"))
    unknown_payment = dict(refund, merchantRefundId=f"SDK-{run_id}-R3", paymentId="04999999999999999999")
    step("refund_unknown_payment", lambda: client.Payment.refund_payment(unknown_payment))

    step("create_cancelled", lambda: client.Code.create_qr_code(code_request(cancelled, 1500)))
    pay(cancelled)
    step("cancel", lambda: client.Payment.cancel_payment(cancelled))
    step("payment_details_cancelled", lambda: client.Payment.get_payment_details(cancelled))
    step("payment_details_unknown", lambda: client.Payment.get_payment_details(f"SDK-{run_id}-X"))

    # The customer-presented flow: the counter scanned the customer's barcode (Payment.create,
    # POST /v2/payments, the code as userAuthorizationId).
    def barcode_request(merchant_payment_id, user_code):
        return {
            "merchantPaymentId": merchant_payment_id,
            "userAuthorizationId": user_code,
            "amount": {"amount": 470, "currency": "JPY"},
            "orderDescription": "住民票の写し",
        }

    step("barcode_payment", lambda: client.Payment.create(barcode_request(f"SDK-{run_id}-D", "281234567890123456")))
    step("barcode_declined", lambda: client.Payment.create(barcode_request(f"SDK-{run_id}-E", "991234567890123456")))

    wrong = paypayopa.Client(auth=(api_key, api_secret + "-wrong"), base_url=base_url)
    with contextlib.redirect_stdout(sys.stderr):
        response = wrong.Payment.get_payment_details(paid)
    emit({"step": "wrong_secret", "response": response})

    emit({"done": True, "version": version, "first_code": created["data"]["codeId"]})
    return 0


if __name__ == "__main__":
    sys.exit(main())
