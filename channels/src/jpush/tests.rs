use super::*;

#[test]
fn the_master_secret_stays_hidden() {
    let config: JpushConfig = serde_json::from_value(serde_json::json!({
        "app_key": "app",
        "master_secret": "very-secret-master"
    }))
    .unwrap();
    assert!(config.apns_production);
    assert!(
        !serde_json::to_string(&config)
            .unwrap()
            .contains("very-secret")
    );
    let channel = JpushChannel::new(&config).unwrap();
    assert!(!format!("{channel:?}").contains("very-secret"));
}
