use super::*;
use crate::IdempotencyKey;

#[test]
fn apns_ids_are_uuids_derived_from_the_key() {
    let uuid = "0A1B2C3D-4E5F-6071-8293-A4B5C6D7E8F9";
    assert_eq!(
        apns_id_for(&IdempotencyKey::parse(uuid).unwrap()),
        uuid.to_ascii_lowercase()
    );
    let key = IdempotencyKey::parse("delivery-42").unwrap();
    let derived = apns_id_for(&key);
    assert_eq!(derived.len(), 36);
    assert_eq!(&derived[14..15], "8");
    assert_eq!(derived, apns_id_for(&key));
}

#[test]
fn a_key_that_is_not_p256_is_refused_at_build_time() {
    let config: ApnsConfig = serde_json::from_value(serde_json::json!({
        "signing_key_pem": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        "key_id": "ABC123DEFG",
        "team_id": "TEAM123456",
        "topic": "com.example.app"
    }))
    .unwrap();
    assert!(ApnsChannel::new(&config).is_err());
    assert!(!serde_json::to_string(&config).unwrap().contains("BEGIN"));
}
