//! Integration tests: every plugin against a real peer over TCP — an in-test SMTP
//! server, axum HTTP receivers playing a webhook endpoint, FCM, APNs (HTTP/2) and
//! JPush, and the Mosquitto broker on 127.0.0.1:1883.
#![allow(clippy::unwrap_used)]

mod apns;
mod email;
mod fcm;
mod jpush;
mod mqtt;
mod ssrf;
mod support;
mod webhook;
