use super::*;

/// The test vector published with the Standard Webhooks specification.
#[test]
fn signs_the_specification_test_vector() {
    let signer = WebhookSigner::from_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let body = br#"{"test": 2432232314}"#;
    assert_eq!(
        signer.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    );
}

#[test]
fn refuses_malformed_or_short_secrets() {
    assert!(WebhookSigner::from_secret("whsec_not base64!").is_err());
    assert!(WebhookSigner::from_secret("whsec_c2hvcnQ=").is_err());
}

#[test]
fn the_secret_never_appears_when_the_config_is_shown() {
    let config: WebhookConfig =
        serde_json::from_str(r#"{"secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}"#).unwrap();
    let shown = serde_json::to_string(&config).unwrap();
    assert!(!shown.contains("MfKQ9r8"), "{shown}");
    assert!(!format!("{config:?}").contains("MfKQ9r8"));
}
