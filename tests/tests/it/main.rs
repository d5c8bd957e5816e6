//! The end-to-end tests as one test binary (one link of the whole system instead of one per file,
//! which on two cores is most of the build): the counter (register → gateway → counterd → ZVT →
//! terminal → ISO 8583 → acquirer and back), the demo day and its reconciliation, the pages in
//! headless Chromium, and the layout's dependency rules.

mod counter_payment;
mod counterd;
mod counterd_devices;
mod counterd_gateway_restart;
mod counterd_mtls;
mod counterd_service;
mod demo_day;
mod demo_reconciliation;
mod layout;
mod pages;
