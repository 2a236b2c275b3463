//! Where the server may connect when a request makes it fetch something (Client ID Metadata
//! Documents): public unicast addresses only. A `client_id` is chosen by whoever sends the
//! authorization request, so without this the server would fetch from its own network on an
//! attacker's behalf (server-side request forgery, RFC 9700 §4.16 and the CIMD draft's security
//! considerations).
//!
//! The check runs on the addresses the connection will use: [`PublicOnlyResolver`] is the HTTP
//! client's resolver, so a name that resolves to a public address when checked and to a private
//! one when connected (DNS rebinding) cannot slip through; IP-literal hosts, which the client
//! does not resolve, are checked by [`check_host`] before the request.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The start of every HTTP client the server uses for its own requests: reqwest is built
/// without a default TLS provider (decision 0010), so ring is installed as the process default
/// unless the embedding program installed one first; redirects are never followed, and no proxy
/// is taken from the environment (it would move the address check to a machine we cannot see).
pub(crate) fn client_builder() -> reqwest::ClientBuilder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
}

/// A refusal to connect.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum AddressRefused {
    /// The host is, or resolves to, an address that is not public.
    #[error("{host} is (or resolves to) {address}, a private or special-use address")]
    NotPublic {
        /// The host as written in the URL.
        host: String,
        /// The offending address.
        address: IpAddr,
    },
    /// The name resolves to nothing.
    #[error("{0} does not resolve to any address")]
    Unresolvable(String),
}

/// Which addresses are allowed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AddressPolicy {
    /// Tests only: loopback addresses too.
    pub(crate) allow_loopback: bool,
}

impl AddressPolicy {
    pub(crate) fn allows(self, address: IpAddr) -> bool {
        if self.allow_loopback && canonical(address).is_loopback() {
            return true;
        }
        is_public(address)
    }

    fn check(self, host: &str, address: IpAddr) -> Result<(), AddressRefused> {
        if self.allows(address) {
            Ok(())
        } else {
            Err(AddressRefused::NotPublic {
                host: host.to_owned(),
                address,
            })
        }
    }
}

/// Checks a URL's host when it is an IP literal (the HTTP client connects to those without
/// resolving). `url` is parsed with the same parser the client uses, so spellings such as
/// `https://2130706433/` or `https://0x7f.1/` are seen as the address they are.
pub(crate) fn check_host(policy: AddressPolicy, url: &reqwest::Url) -> Result<(), AddressRefused> {
    match url.host() {
        Some(url::Host::Ipv4(v4)) => policy.check(&v4.to_string(), IpAddr::V4(v4)),
        Some(url::Host::Ipv6(v6)) => policy.check(&v6.to_string(), IpAddr::V6(v6)),
        Some(url::Host::Domain(_)) => Ok(()),
        None => Err(AddressRefused::Unresolvable(url.as_str().to_owned())),
    }
}

/// The HTTP client's resolver: the system's, then every address is checked. One refused address
/// refuses the name: a name that mixes public and private addresses is not trusted to connect to
/// the public one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PublicOnlyResolver {
    pub(crate) policy: AddressPolicy,
}

impl reqwest::dns::Resolve for PublicOnlyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addresses: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if addresses.is_empty() {
                return Err(AddressRefused::Unresolvable(host).into());
            }
            for address in &addresses {
                policy.check(&host, address.ip())?;
            }
            let addresses: reqwest::dns::Addrs = Box::new(addresses.into_iter());
            Ok(addresses)
        })
    }
}

/// An IPv6 address that embeds an IPv4 one (mapped `::ffff:a.b.c.d`) is judged as that IPv4
/// address: that is where a dual-stack socket connects.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// Whether `address` is a globally reachable unicast address: not in any block of the IANA
/// special-purpose registries (IPv4: RFC 6890 and updates; IPv6: likewise) except those marked
/// globally reachable, not multicast, not reserved.
pub(crate) fn is_public(address: IpAddr) -> bool {
    match canonical(address) {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(address: Ipv4Addr) -> bool {
    let [a, b, c, _] = address.octets();
    let special = a == 0                                   // 0.0.0.0/8 "this network"
        || a == 10                                          // 10.0.0.0/8 private (RFC 1918)
        || (a == 100 && (64..128).contains(&b))             // 100.64.0.0/10 shared (RFC 6598)
        || a == 127                                         // 127.0.0.0/8 loopback
        || (a == 169 && b == 254)                           // 169.254.0.0/16 link-local, cloud metadata
        || (a == 172 && (16..32).contains(&b))              // 172.16.0.0/12 private
        || (a == 192 && b == 0 && c == 0)                   // 192.0.0.0/24 IETF assignments
        || (a == 192 && b == 0 && c == 2)                   // 192.0.2.0/24 TEST-NET-1
        || (a == 192 && b == 88 && c == 99)                 // 192.88.99.0/24 6to4 relay anycast
        || (a == 192 && b == 168)                           // 192.168.0.0/16 private
        || (a == 198 && (b == 18 || b == 19))               // 198.18.0.0/15 benchmarking
        || (a == 198 && b == 51 && c == 100)                // 198.51.100.0/24 TEST-NET-2
        || (a == 203 && b == 0 && c == 113)                 // 203.0.113.0/24 TEST-NET-3
        || a >= 224; // 224.0.0.0/4 multicast, 240.0.0.0/4 reserved, broadcast
    !special
}

fn is_public_v6(address: Ipv6Addr) -> bool {
    let segments = address.segments();
    let [s0, s1, ..] = segments;
    let special = address.is_unspecified()                 // ::/128
        || address.is_loopback()                            // ::1/128
        || segments[..6] == [0; 6]                          // ::/96 IPv4-compatible (deprecated)
        || (s0 == 0x0064 && s1 == 0xff9b)                   // 64:ff9b::/96 NAT64, 64:ff9b:1::/48 local NAT64
        || (s0 == 0x0100 && segments[1..4] == [0; 3])       // 100::/64 discard
        || (s0 == 0x2001 && s1 < 0x0200)                    // 2001::/23 IETF assignments (Teredo, ORCHID...)
        || (s0 == 0x2001 && s1 == 0x0db8)                   // 2001:db8::/32 documentation
        || s0 == 0x2002                                     // 2002::/16 6to4 (embeds any IPv4)
        || (s0 == 0x3fff && s1 < 0x1000)                    // 3fff::/20 documentation
        || s0 == 0x5f00                                     // 5f00::/16 SRv6 SIDs
        || (s0 & 0xfe00) == 0xfc00                          // fc00::/7 unique local
        || (s0 & 0xffc0) == 0xfe80                          // fe80::/10 link-local
        || (s0 & 0xffc0) == 0xfec0                          // fec0::/10 site-local (deprecated)
        || (s0 & 0xff00) == 0xff00; // ff00::/8 multicast
    // Only 2000::/3 is allocated for global unicast.
    !special && (s0 & 0xe000) == 0x2000
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn special_use_addresses_are_not_public() {
        for address in [
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "10.255.255.255",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "127.1.2.3",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.88.99.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.1",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::127.0.0.1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "64:ff9b:1::1",
            "100::1",
            "2001::1",
            "2001:db8::1",
            "2002:a00:1::1",
            "3fff::1",
            "5f00::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "4000::1",
            "::2",
        ] {
            assert!(!is_public(ip(address)), "{address} must not be public");
        }
    }

    #[test]
    fn global_unicast_addresses_are_public() {
        for address in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "100.63.255.255",
            "100.128.0.1",
            "172.15.255.255",
            "172.32.0.1",
            "192.0.1.1",
            "192.169.0.1",
            "198.17.255.255",
            "198.20.0.1",
            "223.255.255.254",
            "::ffff:8.8.8.8",
            "2606:4700:4700::1111",
            "2a00:1450:4001::1",
            "2001:4860:4860::8888",
        ] {
            assert!(is_public(ip(address)), "{address} must be public");
        }
    }

    #[test]
    fn loopback_only_when_the_dangerous_test_setting_allows_it() {
        let strict = AddressPolicy {
            allow_loopback: false,
        };
        let testing = AddressPolicy {
            allow_loopback: true,
        };
        for address in ["127.0.0.1", "::1", "::ffff:127.0.0.1"] {
            assert!(!strict.allows(ip(address)));
            assert!(testing.allows(ip(address)), "{address}");
        }
        assert!(!testing.allows(ip("10.0.0.1")));
        assert!(!testing.allows(ip("169.254.169.254")));
    }

    #[test]
    fn ip_literals_in_every_spelling_are_checked_before_connecting() {
        let strict = AddressPolicy {
            allow_loopback: false,
        };
        for url in [
            "https://127.0.0.1/c",
            "https://2130706433/c",
            "https://0x7f.1/c",
            "https://017700000001/c",
            "https://[::1]/c",
            "https://[::ffff:7f00:1]/c",
            "https://169.254.169.254/latest/meta-data",
        ] {
            let parsed = reqwest::Url::parse(url).unwrap();
            assert!(
                matches!(
                    check_host(strict, &parsed),
                    Err(AddressRefused::NotPublic { .. })
                ),
                "{url}"
            );
        }
        let named = reqwest::Url::parse("https://client.example.com/c").unwrap();
        assert_eq!(check_host(strict, &named), Ok(()));
    }
}

/// Why an answer was not read whole.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReadError {
    /// Larger than the caller accepts.
    #[error("the answer is larger than {0} bytes")]
    TooLarge(usize),
    /// The connection broke off, or the deadline passed.
    #[error("the answer broke off: {0}")]
    BrokeOff(String),
}

/// The body of `response`, refused once it grows past `max_bytes` (read as it arrives: a
/// `Content-Length` is not trusted). The error never names the URL, which may carry credentials.
pub(crate) async fn read_capped(
    mut response: reqwest::Response,
    max_bytes: usize,
) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| ReadError::BrokeOff(e.without_url().to_string()))?
    {
        if body.len().saturating_add(chunk.len()) > max_bytes {
            return Err(ReadError::TooLarge(max_bytes));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
