//! Where webhooks may be sent: an absolute `https://` URL (plain `http://` only where the
//! configuration allows it), never an internal address unless the configuration allows that too.
//! A client names the URL, so without this rule a subscription would make sanhu call the
//! platform's own network (its database, a cloud metadata endpoint) and show the answer in the
//! delivery log. The URL's literal host is checked when it is subscribed; every address a name
//! resolves to is checked again before each attempt (`check_target_address`), and the attempt
//! connects to the address checked, so a name that resolves elsewhere later is caught then.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{WebhookConfig, WebhookFailure, URL_BYTES_MAX, WEBHOOK_URL_INVALID, WEBHOOK_URL_NOT_ALLOWED};

/// Why an address is not a webhook target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TargetRefusal;

/// Checks the text of a subscription's URL; answers it as kept.
pub(super) fn check_url(text: &str, config: &WebhookConfig) -> Result<String, WebhookFailure> {
    let invalid = WebhookFailure::Rejected(WEBHOOK_URL_INVALID);
    if text.is_empty() || text.len() > URL_BYTES_MAX || !text.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid);
    }
    let rest = if let Some(rest) = text.strip_prefix("https://") {
        rest
    } else if let Some(rest) = text.strip_prefix("http://").filter(|_| config.allow_plain_http) {
        rest
    } else {
        return Err(invalid);
    };
    if text.contains('#') {
        return Err(invalid);
    }
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    if authority.is_empty() || authority.contains('@') {
        return Err(invalid);
    }
    let host = host_of(authority).ok_or(WebhookFailure::Rejected(WEBHOOK_URL_INVALID))?;
    if !config.allow_private_targets {
        let internal_name = host.eq_ignore_ascii_case("localhost") || host.to_ascii_lowercase().ends_with(".localhost");
        let internal_ip = host.parse::<IpAddr>().is_ok_and(|ip| check_target_address(ip, false).is_err());
        if internal_name || internal_ip {
            return Err(WebhookFailure::Rejected(WEBHOOK_URL_NOT_ALLOWED));
        }
    }
    Ok(text.to_owned())
}

/// The host of `host[:port]` or `[v6][:port]`, or None when malformed.
fn host_of(authority: &str) -> Option<&str> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return (after.is_empty() || after.strip_prefix(':').is_some_and(valid_port)).then_some(host);
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    let ok = !host.is_empty()
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        && port.is_none_or(valid_port);
    ok.then_some(host)
}

fn valid_port(port: &str) -> bool {
    !port.is_empty() && port.len() <= 5 && port.parse::<u16>().is_ok_and(|p| p > 0)
}

/// Whether a delivery may connect to `ip`: a public unicast address, or any address when
/// `allow_private` (the configuration's `allow_private_targets`).
pub fn check_target_address(ip: IpAddr, allow_private: bool) -> Result<(), TargetRefusal> {
    if allow_private {
        return Ok(());
    }
    let internal = match ip {
        IpAddr::V4(v4) => internal_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => internal_v4(v4),
            None => internal_v6(v6),
        },
    };
    if internal {
        Err(TargetRefusal)
    } else {
        Ok(())
    }
}

fn internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        // Shared address space (carrier-grade NAT), 100.64.0.0/10.
        || (a == 100 && (64..128).contains(&b))
        // Benchmarking, 198.18.0.0/15; IETF protocol assignments, 192.0.0.0/24; the old 6to4
        // relays, 192.88.99.0/24; reserved, 240.0.0.0/4.
        || (a == 198 && (b == 18 || b == 19))
        || (a == 192 && b == 0 && ip.octets()[2] == 0)
        || (a == 192 && b == 88 && ip.octets()[2] == 99)
        || a >= 240
}

fn internal_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        // Unique local fc00::/7, link-local fe80::/10, the old site-local fec0::/10.
        || (s[0] & 0xfe00) == 0xfc00
        || (s[0] & 0xffc0) == 0xfe80
        || (s[0] & 0xffc0) == 0xfec0
        // Discard-only 100::/64; Teredo 2001::/32 (tunnels to IPv4); documentation 2001:db8::/32.
        || (s[0] == 0x0100 && s[1] == 0 && s[2] == 0 && s[3] == 0)
        || (s[0] == 0x2001 && (s[1] == 0 || s[1] == 0x0db8))
        // NAT64 64:ff9b::/96 and 64:ff9b:1::/48, and 6to4 2002::/16, carry an IPv4 address a
        // gateway may reach: refused when it is internal (the local-use NAT64 prefix always).
        || (s[0] == 0x0064 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] && internal_v4(embedded(s[6], s[7])))
        || (s[0] == 0x0064 && s[1] == 0xff9b && s[2] == 1)
        || (s[0] == 0x2002 && internal_v4(embedded(s[1], s[2])))
        // IPv4-compatible ::a.b.c.d carries an IPv4 address that may be internal.
        || ip.to_ipv4().is_some_and(internal_v4)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strict() -> WebhookConfig {
        WebhookConfig::default()
    }

    #[test]
    fn internal_addresses_are_refused_unless_allowed() {
        for text in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "0.0.0.0",
            "100.64.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "2002:a9fe:a9fe::",
            "64:ff9b:1::1",
            "2001::1",
            "fec0::1",
            "100::1",
            "192.0.0.8",
            "192.88.99.1",
        ] {
            let ip: IpAddr = text.parse().unwrap();
            assert!(check_target_address(ip, false).is_err(), "{text} passed");
            assert!(check_target_address(ip, true).is_ok());
        }
        for text in ["8.8.8.8", "2001:4860:4860::8888", "1.1.1.1", "64:ff9b::808:808", "2002:808:808::"] {
            assert!(check_target_address(text.parse().unwrap(), false).is_ok(), "{text} refused");
        }
    }

    #[test]
    fn a_url_is_https_with_a_public_host() {
        let ok = |t: &str| check_url(t, &strict()).map_err(|e| e.code());
        assert!(ok("https://example.com/hooks?x=1").is_ok());
        assert!(ok("https://example.com:8443/h").is_ok());
        assert_eq!(ok("http://example.com/h"), Err("webhook_url_invalid"));
        assert_eq!(ok("https://user:pw@example.com/h"), Err("webhook_url_invalid"));
        assert_eq!(ok("https://example.com/h#f"), Err("webhook_url_invalid"));
        assert_eq!(ok("https://127.0.0.1/h"), Err("webhook_url_not_allowed"));
        assert_eq!(ok("https://[::1]:8080/h"), Err("webhook_url_not_allowed"));
        assert_eq!(ok("https://localhost/h"), Err("webhook_url_not_allowed"));
        assert_eq!(ok("ftp://example.com"), Err("webhook_url_invalid"));
        let open = WebhookConfig { allow_private_targets: true, allow_plain_http: true, ..strict() };
        assert!(check_url("http://127.0.0.1:9/h", &open).is_ok());
    }
}
