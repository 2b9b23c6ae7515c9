//! The SSRF guard end to end: a real receiver on 127.0.0.1 is unreachable until
//! the allow-list names it. Refused addresses are refused before any packet is
//! sent, so the private-range cases below send no traffic anywhere.

use herald_channels::{Channel, DeliveryOutcome};

use crate::support::receiver::{Receiver, checking_signatures};
use crate::support::{webhook, webhook_channel};

fn assert_refused(outcome: &DeliveryOutcome, range: &str) {
    assert!(
        matches!(outcome, DeliveryOutcome::Permanent { reason, endpoint_dead: false }
            if reason.contains("refused") && reason.contains(range)),
        "expected a refusal naming {range}, got {outcome:?}"
    );
}

#[tokio::test]
async fn loopback_is_refused_without_the_allow_list_by_address_and_by_name() {
    let receiver = Receiver::start(checking_signatures).await;
    let base = receiver.base();
    let port = base.rsplit(':').next().unwrap();
    let channel = webhook_channel(&[], 5_000);

    let by_address = channel.send(&webhook("m1", format!("{base}/hooks"))).await;
    assert_refused(&by_address, "loopback");
    // A name is checked after resolution, on the addresses actually connected to.
    let by_name = channel
        .send(&webhook("m2", format!("http://localhost:{port}/hooks")))
        .await;
    assert_refused(&by_name, "loopback");
    let mapped = channel
        .send(&webhook(
            "m3",
            format!("http://[::ffff:127.0.0.1]:{port}/hooks"),
        ))
        .await;
    assert_refused(&mapped, "loopback");
    assert!(receiver.count() == 0, "nothing reached the receiver");
}

#[tokio::test]
async fn private_link_local_and_metadata_addresses_are_refused() {
    let channel = webhook_channel(&[], 5_000);
    let cases = [
        ("http://10.0.0.5/hooks", "10.0.0.0/8"),
        ("http://172.20.1.1/hooks", "172.16.0.0/12"),
        ("http://192.168.0.10/hooks", "192.168.0.0/16"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.0.0/16"),
        ("http://100.64.0.1/hooks", "100.64.0.0/10"),
        ("http://0.0.0.0/hooks", "0.0.0.0/8"),
        ("http://[fd00::1]/hooks", "fc00::/7"),
        ("http://[fe80::1]/hooks", "fe80::/10"),
        ("http://[::]/hooks", "unspecified"),
    ];
    for (url, range) in cases {
        let outcome = channel.send(&webhook("m", url.to_owned())).await;
        assert_refused(&outcome, range);
    }
}

#[tokio::test]
async fn an_allowed_network_opens_loopback_by_address_and_by_name() {
    let receiver = Receiver::start(checking_signatures).await;
    let base = receiver.base();
    let port = base.rsplit(':').next().unwrap();
    let channel = webhook_channel(&["127.0.0.0/8".to_owned(), "::1".to_owned()], 5_000);

    assert!(
        channel
            .send(&webhook("m1", format!("{base}/hooks")))
            .await
            .is_delivered()
    );
    let by_name = channel
        .send(&webhook("m2", format!("http://localhost:{port}/hooks")))
        .await;
    assert!(by_name.is_delivered(), "{by_name:?}");
    assert_eq!(receiver.count(), 2);
}

#[tokio::test]
async fn a_host_port_entry_opens_exactly_that_port() {
    let receiver = Receiver::start(checking_signatures).await;
    let other = Receiver::start(checking_signatures).await;
    let port = receiver.base().rsplit(':').next().unwrap();
    let channel = webhook_channel(&[format!("localhost:{port}")], 5_000);

    let allowed = channel
        .send(&webhook("m1", format!("http://localhost:{port}/hooks")))
        .await;
    assert!(allowed.is_delivered(), "{allowed:?}");
    let other_port = other.base().rsplit(':').next().unwrap();
    let refused = channel
        .send(&webhook(
            "m2",
            format!("http://localhost:{other_port}/hooks"),
        ))
        .await;
    assert_refused(&refused, "loopback");
    assert_eq!(receiver.count(), 1);
}
