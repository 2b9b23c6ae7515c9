use std::net::IpAddr;

use super::*;

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

#[test]
fn every_private_and_special_range_is_refused() {
    let refused = [
        "127.0.0.1",
        "127.255.255.254",
        "10.0.0.1",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "169.254.169.254",
        "169.254.0.1",
        "100.64.0.1",
        "100.127.255.255",
        "0.0.0.0",
        "0.1.2.3",
        "224.0.0.1",
        "255.255.255.255",
        "192.0.0.8",
        "198.18.0.1",
        "::1",
        "::",
        "fc00::1",
        "fd12:3456::1",
        "fe80::1",
        "febf::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.1.2.3",
        "::ffff:169.254.169.254",
        "64:ff9b::a00:1",
        "64:ff9b::7f00:1",
        "64:ff9b::a9fe:a9fe",
        "64:ff9b:1::808:808",
        "64:ff9b:1:ffff::1",
        "2002:c0a8:0101::1",
        "2001:db8::1",
    ];
    let guard = SsrfGuard::default();
    for address in refused {
        assert!(
            guard.check_ip(ip(address)).is_err(),
            "{address} should be refused"
        );
    }
}

#[test]
fn public_addresses_pass() {
    let guard = SsrfGuard::default();
    for address in [
        "1.1.1.1",
        "8.8.8.8",
        "172.32.0.1",
        "100.128.0.1",
        "2606:4700::1111",
        "64:ff9b::808:808",
    ] {
        assert!(guard.check_ip(ip(address)).is_ok(), "{address} should pass");
    }
}

#[test]
fn allowed_networks_open_exactly_their_range() {
    let allow: Vec<AllowEntry> = vec!["10.1.0.0/16".parse().unwrap(), "::1".parse().unwrap()];
    let guard = SsrfGuard::new(&allow);
    assert!(guard.check_ip(ip("10.1.2.3")).is_ok());
    assert!(guard.check_ip(ip("::1")).is_ok());
    assert!(guard.check_ip(ip("10.2.0.1")).is_err());
    assert!(guard.check_ip(ip("127.0.0.1")).is_err());
}

#[test]
fn urls_are_checked_by_scheme_literal_host_and_host_port_entries() {
    let allow: Vec<AllowEntry> = vec![
        "hooks.internal:8443".parse().unwrap(),
        "[::1]:9000".parse().unwrap(),
    ];
    let guard = SsrfGuard::new(&allow);
    let check = |url: &str| guard.check_url(&Url::parse(url).unwrap());
    assert!(check("ftp://example.com/").is_err());
    assert!(check("http://127.0.0.1:8080/").is_err());
    assert!(check("http://[::ffff:7f00:1]/").is_err());
    // Alternative spellings of 127.0.0.1 are normalised by the URL parser first.
    assert!(check("http://2130706433/").is_err());
    assert!(check("http://0x7f.1/").is_err());
    assert!(check("http://127.1/").is_err());
    assert_eq!(check("https://hooks.internal:8443/x"), Ok(Route::Trusted));
    assert_eq!(check("http://[::1]:9000/"), Ok(Route::Trusted));
    // Same host, other port: back to the guarded path, where the resolver decides.
    assert_eq!(check("https://hooks.internal/x"), Ok(Route::Guarded));
    assert_eq!(check("https://example.com/"), Ok(Route::Guarded));
}

#[test]
fn allow_entries_round_trip_through_text() {
    for text in [
        "10.0.0.0/8",
        "127.0.0.1/32",
        "hooks.internal:8443",
        "[::1]:9000",
    ] {
        let entry: AllowEntry = text.parse().unwrap();
        assert_eq!(entry.to_string(), text);
    }
    assert!("not an entry".parse::<AllowEntry>().is_err());
    assert!("host:notaport".parse::<AllowEntry>().is_err());
}

#[tokio::test]
async fn the_resolver_drops_forbidden_addresses_of_a_name() {
    use reqwest::dns::Resolve;
    let resolver = GuardedResolver::new(Arc::new(SsrfGuard::default()));
    let name = "localhost".parse().unwrap();
    let refused = resolver.resolve(name).await.err().unwrap();
    assert!(refused.downcast_ref::<Refused>().is_some(), "{refused}");

    let allow: Vec<AllowEntry> = vec!["127.0.0.0/8".parse().unwrap(), "::1".parse().unwrap()];
    let resolver = GuardedResolver::new(Arc::new(SsrfGuard::new(&allow)));
    let addrs: Vec<_> = resolver
        .resolve("localhost".parse().unwrap())
        .await
        .unwrap()
        .collect();
    assert!(addrs.iter().all(|addr| addr.ip().is_loopback()) && !addrs.is_empty());
}
