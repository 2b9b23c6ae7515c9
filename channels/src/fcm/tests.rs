use super::*;

#[test]
fn overrides_apply_to_the_key_file_and_secrets_stay_hidden() {
    let key_file = serde_json::json!({
        "type": "service_account",
        "project_id": "from-file",
        "private_key_id": "kid1",
        "private_key": "-----BEGIN PRIVATE KEY-----\nsecret-material\n-----END PRIVATE KEY-----\n",
        "client_email": "sender@from-file.iam.gserviceaccount.com",
        "token_uri": "https://oauth2.googleapis.com/token"
    });
    let config: FcmConfig = serde_json::from_value(serde_json::json!({
        "service_account_json": key_file.to_string(),
        "project_id": "override",
        "token_uri": "http://127.0.0.1:9/token"
    }))
    .unwrap();
    let account = config.service_account().unwrap();
    assert_eq!(account.project_id, "override");
    assert_eq!(account.token_uri, "http://127.0.0.1:9/token");
    assert!(!format!("{account:?}").contains("secret-material"));
    assert!(
        !serde_json::to_string(&config)
            .unwrap()
            .contains("secret-material")
    );
    // The key material is not a valid RSA key: building must fail, not panic.
    assert!(FcmChannel::new(&config).is_err());
}
