//! Who the client is, for the rate limits: the TCP peer, or, when the peer is a trusted proxy,
//! the address `X-Forwarded-For` names.
//!
//! Invariants: `X-Forwarded-For` is read only when the peer is in `trusted_proxies`, and then
//! from the right: the first address that is not itself a trusted proxy is the client (a client
//! may write anything at the left end of the header, but every trusted proxy appends what it
//! saw). A request without a known peer (a router driven in-process, without a socket) counts
//! as one shared unknown client, never as a fresh one, so a limit still holds for it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::Request;

use super::TrustedProxy;

/// The key a client is limited under: an IPv4 address, or the /64 network of an IPv6 address
/// (one subscriber usually has a whole /64, so keying by address would let them rotate
/// freely).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientKey(IpAddr);

impl ClientKey {
    /// The key of `address`.
    pub fn of(address: IpAddr) -> Self {
        match canonical(address) {
            IpAddr::V6(v6) => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                Self(IpAddr::V6(Ipv6Addr::from(prefix)))
            }
            v4 => Self(v4),
        }
    }

    /// The key shared by every request whose peer is unknown.
    pub const UNKNOWN: ClientKey = ClientKey(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
}

impl std::fmt::Display for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            IpAddr::V6(v6) => write!(f, "{v6}/64"),
            v4 => write!(f, "{v4}"),
        }
    }
}

/// An IPv4 address written as IPv6 (`::ffff:a.b.c.d`, what a dual-stack socket reports) as the
/// IPv4 address it is.
pub fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// The client address of `request`: see the module documentation.
pub fn client_address<B>(request: &Request<B>, trusted_proxies: &[TrustedProxy]) -> Option<IpAddr> {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| canonical(address.ip()))?;
    let trusted = |address: IpAddr| trusted_proxies.iter().any(|proxy| proxy.contains(address));
    if !trusted(peer) {
        return Some(peer);
    }
    let mut hops = Vec::new();
    for value in request.headers().get_all("x-forwarded-for") {
        let Ok(value) = value.to_str() else {
            // Not text: nothing in it can be believed, so the proxy itself is the client.
            return Some(peer);
        };
        for hop in value.split(',') {
            match hop.trim().parse::<IpAddr>() {
                Ok(address) => hops.push(canonical(address)),
                Err(_) => return Some(peer),
            }
        }
    }
    // From the right: the nearest hop that is not a trusted proxy; if every hop is one, the
    // leftmost (the chain is all ours).
    Some(
        hops.iter()
            .rev()
            .find(|hop| !trusted(**hop))
            .or(hops.first())
            .copied()
            .unwrap_or(peer),
    )
}

/// The key `request` is limited under.
pub fn client_key<B>(request: &Request<B>, trusted_proxies: &[TrustedProxy]) -> ClientKey {
    client_address(request, trusted_proxies).map_or(ClientKey::UNKNOWN, ClientKey::of)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(peer: Option<&str>, forwarded: &[&str]) -> Request<()> {
        let mut builder = Request::builder().uri("/");
        for value in forwarded {
            builder = builder.header("x-forwarded-for", *value);
        }
        let mut request = builder.body(()).unwrap();
        if let Some(peer) = peer {
            request
                .extensions_mut()
                .insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
        }
        request
    }

    fn proxies(list: &[&str]) -> Vec<TrustedProxy> {
        list.iter().map(|proxy| proxy.parse().unwrap()).collect()
    }

    fn address(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn forwarded_for_is_ignored_from_an_untrusted_peer() {
        let spoofed = request(Some("203.0.113.5:4000"), &["198.51.100.1"]);
        assert_eq!(client_address(&spoofed, &[]), address("203.0.113.5"));
        assert_eq!(
            client_address(&spoofed, &proxies(&["10.0.0.0/8"])),
            address("203.0.113.5")
        );
    }

    #[test]
    fn behind_trusted_proxies_the_nearest_untrusted_hop_is_the_client() {
        let trusted = proxies(&["10.0.0.0/8"]);
        // The client wrote a fake first hop; the proxy appended what it saw.
        let request = request(
            Some("10.0.0.2:4000"),
            &["1.2.3.4, 198.51.100.9", "10.0.0.7"],
        );
        assert_eq!(client_address(&request, &trusted), address("198.51.100.9"));
        // A chain of trusted proxies only: the leftmost.
        let internal = super::tests::request(Some("10.0.0.2:4000"), &["10.9.9.9, 10.0.0.7"]);
        assert_eq!(client_address(&internal, &trusted), address("10.9.9.9"));
        // No header, or an unreadable one: the proxy itself.
        let bare = super::tests::request(Some("10.0.0.2:4000"), &[]);
        assert_eq!(client_address(&bare, &trusted), address("10.0.0.2"));
        let garbage = super::tests::request(Some("10.0.0.2:4000"), &["not-an-address"]);
        assert_eq!(client_address(&garbage, &trusted), address("10.0.0.2"));
    }

    #[test]
    fn keys_group_ipv6_by_64_and_unknown_peers_together() {
        assert_eq!(
            ClientKey::of("2001:db8:1:2:aaaa::1".parse().unwrap()),
            ClientKey::of("2001:db8:1:2:bbbb::9".parse().unwrap())
        );
        assert_ne!(
            ClientKey::of("2001:db8:1:2::1".parse().unwrap()),
            ClientKey::of("2001:db8:1:3::1".parse().unwrap())
        );
        assert_eq!(
            ClientKey::of("::ffff:192.0.2.1".parse().unwrap()),
            ClientKey::of("192.0.2.1".parse().unwrap())
        );
        assert_eq!(
            client_key(&request(None, &["192.0.2.1"]), &[]),
            ClientKey::UNKNOWN
        );
    }
}
