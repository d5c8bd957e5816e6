//! The §4.2 settlement file's exact bytes for a small day.

use crate::rig::Rig;
use serde_json::json;

#[tokio::test]
async fn a_small_day_renders_exactly() {
    let rig = Rig::start_with(qr_sim::QrSimConfig::example(), "2026-11-24T11:02:00+09:00").await;
    rig.create_code("PAY-A", 300).await;
    rig.create_code("PAY-B", 1500).await;
    rig.create_code("PAY-C", 470).await;
    rig.set_now("2026-11-24T11:02:45+09:00");
    let a = rig.handle.pay("PAY-A").unwrap().payment_id.unwrap();
    let b = rig.handle.pay("PAY-B").unwrap().payment_id.unwrap();
    rig.set_now("2026-11-24T11:30:10+09:00");
    let (status, _) = rig
        .post(
            "/v2/refunds",
            json!({"merchantRefundId": "R-1", "paymentId": a, "amount": {"amount": 300, "currency": "JPY"},
                   "requestedAt": 1}),
        )
        .await;
    assert_eq!(status, 201);
    rig.set_now("2026-11-24T15:00:00+09:00");
    assert_eq!(rig.delete("/v2/payments/PAY-B").await.0, 202);
    // Paid the next day: not in the 24th's file.
    rig.set_now("2026-11-25T00:01:00+09:00");
    rig.handle.pay("PAY-C").ok();

    let date = "2026-11-24".parse().unwrap();
    let bytes = rig.handle.render_settlement(date).unwrap();
    let expected = format!(
        "\u{feff}取引日時,加盟店ID,店舗ID,端末ID,取引種別,決済番号,加盟店決済番号,取引金額,決済手数料,入金額,入金予定日,入金番号\r\n\
         2026/11/24 11:02:45,M0001,S0010001,R0010001,支払い,{a},PAY-A,300,6,294,2026/11/30,D20261130-01\r\n\
         2026/11/24 11:02:45,M0001,S0010001,R0010001,支払い,{b},PAY-B,1500,30,1470,2026/11/30,D20261130-01\r\n\
         2026/11/24 11:30:10,M0001,S0010001,R0010001,返金,{a},PAY-A,-300,-6,-294,2026/11/30,D20261130-01\r\n\
         2026/11/24 15:00:00,M0001,S0010001,R0010001,取消,{b},PAY-B,-1500,-30,-1470,2026/11/30,D20261130-01\r\n"
    );
    assert_eq!(String::from_utf8(bytes.clone()).unwrap(), expected);
    assert_eq!(&bytes[..3], b"\xEF\xBB\xBF");

    let dir = tempfile::tempdir().unwrap();
    let path = rig.handle.write_settlement(date, dir.path()).unwrap();
    assert_eq!(path.file_name().unwrap(), "qr-settlement-20261124.csv");
    assert_eq!(std::fs::read(path).unwrap(), bytes);
}
