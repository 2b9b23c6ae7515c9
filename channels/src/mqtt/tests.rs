use super::*;

#[test]
fn templates_render_per_subscriber_topics() {
    let template = TopicTemplate::parse("herald/{subscriber}/inbox").unwrap();
    assert_eq!(template.render("u-42").unwrap(), "herald/u-42/inbox");
    for bad_subscriber in ["", "a/b", "+", "#", "x\0"] {
        assert!(
            template.render(bad_subscriber).is_err(),
            "{bad_subscriber:?}"
        );
    }
}

#[test]
fn templates_need_exactly_one_placeholder_and_no_wildcards() {
    for bad in [
        "herald/inbox",
        "{subscriber}/{subscriber}",
        "herald/+/{subscriber}",
        "a/{other}/{subscriber}",
        "#/{subscriber}",
    ] {
        assert!(TopicTemplate::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn building_outside_a_runtime_is_an_error_not_a_panic() {
    let config: MqttConfig =
        serde_json::from_value(serde_json::json!({"host": "127.0.0.1"})).unwrap();
    assert!(MqttChannel::new(&config).is_err());
}
