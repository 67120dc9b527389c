//! The little Ethernet the BMC gateway speaks on the lab hub, by hand: ARP requests in and
//! replies out (RFC 826), unfragmented IPv4/UDP datagrams in and out (RFC 791, RFC 768),
//! with the header and UDP checksums computed and checked. Nothing else is parsed: a frame
//! this module does not understand is `None`, never a panic.

use std::net::{Ipv4Addr, SocketAddrV4};

/// A MAC address.
pub type Mac = [u8; 6];

const ETH_HEADER: usize = 14;
const ETHERTYPE_IPV4: [u8; 2] = [0x08, 0x00];
const ETHERTYPE_ARP: [u8; 2] = [0x08, 0x06];
const IP_UDP: u8 = 17;
/// Frames shorter than this are padded (802.3's minimum without the FCS).
const MIN_FRAME: usize = 60;

/// An ARP request: who has `target`? tell `sender_ip` at `sender_mac`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArpRequest {
    pub sender_mac: Mac,
    pub sender_ip: Ipv4Addr,
    pub target: Ipv4Addr,
}

/// A UDP datagram from a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Udp<'a> {
    /// The Ethernet source: where a reply goes.
    pub src_mac: Mac,
    pub src: SocketAddrV4,
    pub dst: SocketAddrV4,
    pub payload: &'a [u8],
}

fn mac_at(b: &[u8], at: usize) -> Mac {
    let mut m = [0u8; 6];
    m.copy_from_slice(&b[at..at + 6]);
    m
}

fn ip_at(b: &[u8], at: usize) -> Ipv4Addr {
    Ipv4Addr::new(b[at], b[at + 1], b[at + 2], b[at + 3])
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// The Internet checksum (RFC 1071) of the concatenation of `parts`; each part but the last
/// must have an even length.
pub fn checksum(parts: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    for p in parts {
        for c in p.chunks(2) {
            let word = u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)]);
            sum += u32::from(word);
        }
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn pseudo_header(src: Ipv4Addr, dst: Ipv4Addr, udp_len: u16) -> [u8; 12] {
    let mut p = [0u8; 12];
    p[..4].copy_from_slice(&src.octets());
    p[4..8].copy_from_slice(&dst.octets());
    p[9] = IP_UDP;
    p[10..12].copy_from_slice(&udp_len.to_be_bytes());
    p
}

fn ethernet(dst: Mac, src: Mac, ethertype: [u8; 2], body: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity((ETH_HEADER + body.len()).max(MIN_FRAME));
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype);
    f.extend_from_slice(body);
    f.resize(f.len().max(MIN_FRAME), 0);
    f
}

/// The ARP request (Ethernet, IPv4) in `frame`, if it is one.
pub fn parse_arp_request(frame: &[u8]) -> Option<ArpRequest> {
    let a = frame.get(ETH_HEADER..ETH_HEADER + 28)?;
    if frame[12..14] != ETHERTYPE_ARP || a[..8] != [0, 1, 8, 0, 6, 4, 0, 1] {
        return None;
    }
    Some(ArpRequest {
        sender_mac: mac_at(a, 8),
        sender_ip: ip_at(a, 14),
        target: ip_at(a, 24),
    })
}

fn arp(op: u8, sha: Mac, spa: Ipv4Addr, tha: Mac, tpa: Ipv4Addr) -> Vec<u8> {
    let mut a = vec![0, 1, 8, 0, 6, 4, 0, op];
    a.extend_from_slice(&sha);
    a.extend_from_slice(&spa.octets());
    a.extend_from_slice(&tha);
    a.extend_from_slice(&tpa.octets());
    a
}

/// The reply to `req`: `req.target` is at `mac`.
pub fn arp_reply(mac: Mac, req: &ArpRequest) -> Vec<u8> {
    let body = arp(2, mac, req.target, req.sender_mac, req.sender_ip);
    ethernet(req.sender_mac, mac, ETHERTYPE_ARP, &body)
}

/// A gratuitous ARP (a broadcast reply): `ip` is at `mac`. The hub learns the port from it.
pub fn gratuitous_arp(mac: Mac, ip: Ipv4Addr) -> Vec<u8> {
    let body = arp(2, mac, ip, [0xff; 6], ip);
    ethernet([0xff; 6], mac, ETHERTYPE_ARP, &body)
}

/// The UDP datagram in `frame`, if it is an unfragmented IPv4/UDP one whose lengths and
/// checksums (the header's, and the UDP one unless it is 0) are right.
pub fn parse_udp(frame: &[u8]) -> Option<Udp<'_>> {
    if frame.get(12..14)? != ETHERTYPE_IPV4 {
        return None;
    }
    let ip = &frame[ETH_HEADER..];
    let ihl = usize::from(*ip.first()? & 0x0f) * 4;
    if ip[0] >> 4 != 4 || ihl < 20 || ip.len() < ihl {
        return None;
    }
    let total = usize::from(u16_at(ip, 2));
    // More fragments, or a fragment offset: not reassembled here.
    let fragmented = u16_at(ip, 6) & 0x3fff != 0;
    if total < ihl + 8 || total > ip.len() || fragmented || ip[9] != IP_UDP {
        return None;
    }
    if checksum(&[&ip[..ihl]]) != 0 {
        return None;
    }
    let (src_ip, dst_ip) = (ip_at(ip, 12), ip_at(ip, 16));
    let udp = &ip[ihl..total];
    let len = u16_at(udp, 4);
    if usize::from(len) < 8 || usize::from(len) > udp.len() {
        return None;
    }
    let udp = &udp[..usize::from(len)];
    if u16_at(udp, 6) != 0 && checksum(&[&pseudo_header(src_ip, dst_ip, len), udp]) != 0 {
        return None;
    }
    Some(Udp {
        src_mac: mac_at(frame, 6),
        src: SocketAddrV4::new(src_ip, u16_at(udp, 0)),
        dst: SocketAddrV4::new(dst_ip, u16_at(udp, 2)),
        payload: &udp[8..],
    })
}

/// An Ethernet frame carrying `payload` in a UDP datagram from `src` to `dst`, with IPv4
/// identification `id`, TTL 64, "don't fragment", and both checksums. `None` if the payload
/// does not fit in one datagram.
pub fn udp_frame(
    src_mac: Mac,
    dst_mac: Mac,
    src: SocketAddrV4,
    dst: SocketAddrV4,
    id: u16,
    payload: &[u8],
) -> Option<Vec<u8>> {
    let udp_len = u16::try_from(8 + payload.len()).ok()?;
    let total = udp_len.checked_add(20)?;
    let mut ip = [0u8; 20];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip[4..6].copy_from_slice(&id.to_be_bytes());
    ip[6] = 0x40;
    ip[8] = 64;
    ip[9] = IP_UDP;
    ip[12..16].copy_from_slice(&src.ip().octets());
    ip[16..20].copy_from_slice(&dst.ip().octets());
    let sum = checksum(&[&ip]);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    let mut udp = Vec::with_capacity(usize::from(udp_len));
    udp.extend_from_slice(&src.port().to_be_bytes());
    udp.extend_from_slice(&dst.port().to_be_bytes());
    udp.extend_from_slice(&udp_len.to_be_bytes());
    udp.extend_from_slice(&[0, 0]);
    udp.extend_from_slice(payload);
    let sum = match checksum(&[&pseudo_header(*src.ip(), *dst.ip(), udp_len), &udp]) {
        0 => 0xffff, // 0 means "no checksum" in UDP
        s => s,
    };
    udp[6..8].copy_from_slice(&sum.to_be_bytes());
    let mut body = ip.to_vec();
    body.extend_from_slice(&udp);
    Some(ethernet(dst_mac, src_mac, ETHERTYPE_IPV4, &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Mac = [0x52, 0x54, 0, 0x77, 0, 0x11];
    const GW: Mac = [0x02, 0, 0, 0x77, 0, 0xc8];

    #[test]
    fn the_rfc_1071_example_sums_right() {
        // RFC 1071 §3: 0001 f203 f4f5 f6f7 sums to ddf2 (checksum 220d).
        let d = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(checksum(&[&d]), 0x220d);
        assert_eq!(checksum(&[&d[..4], &d[4..]]), 0x220d);
    }

    #[test]
    fn an_arp_request_gets_a_reply_to_its_sender() {
        let ip = |d| Ipv4Addr::new(10, 77, 0, d);
        let mut req = ethernet(
            [0xff; 6],
            A,
            ETHERTYPE_ARP,
            &arp(1, A, ip(11), [0; 6], ip(201)),
        );
        let r = parse_arp_request(&req).unwrap();
        assert_eq!((r.sender_ip, r.target, r.sender_mac), (ip(11), ip(201), A));
        let reply = arp_reply(GW, &r);
        assert_eq!(reply.len(), 60);
        assert_eq!(&reply[..6], &A);
        assert_eq!(&reply[6..12], &GW);
        assert_eq!(reply[21], 2, "an ARP reply");
        assert_eq!(&reply[22..28], &GW);
        assert_eq!(&reply[28..32], &[10, 77, 0, 201]);
        assert_eq!(&reply[38..42], &[10, 77, 0, 11]);
        // A reply is no request, and short frames are nothing.
        assert_eq!(parse_arp_request(&reply), None);
        req[21] = 2;
        assert_eq!(parse_arp_request(&req), None);
        for n in 0..req.len() {
            let _ = parse_arp_request(&req[..n]);
        }
    }

    #[test]
    fn udp_frames_round_trip_and_bad_checksums_are_dropped() {
        let src: SocketAddrV4 = "10.77.0.201:623".parse().unwrap();
        let dst: SocketAddrV4 = "10.77.0.11:40001".parse().unwrap();
        let f = udp_frame(GW, A, src, dst, 7, b"\x06\x00\xff\x07odd").unwrap();
        assert_eq!(f.len(), 60, "padded to the Ethernet minimum");
        let u = parse_udp(&f).unwrap();
        assert_eq!((u.src, u.dst, u.src_mac), (src, dst, GW));
        assert_eq!(u.payload, b"\x06\x00\xff\x07odd");
        // One flipped payload bit: the UDP checksum no longer holds.
        let mut bad = f.clone();
        bad[14 + 20 + 8] ^= 1;
        assert_eq!(parse_udp(&bad), None);
        // A flipped TTL: the header checksum no longer holds.
        let mut bad = f.clone();
        bad[14 + 8] ^= 1;
        assert_eq!(parse_udp(&bad), None);
        // A fragment is not reassembled.
        let mut frag = f.clone();
        frag[14 + 6] = 0x20;
        assert_eq!(parse_udp(&frag), None);
        // No UDP checksum (0) is allowed.
        let mut nosum = f.clone();
        nosum[14 + 26] = 0;
        nosum[14 + 27] = 0;
        assert!(parse_udp(&nosum).is_some());
        for n in 0..f.len() {
            let _ = parse_udp(&f[..n]);
        }
    }

    #[test]
    fn a_large_datagram_is_not_padded_and_gets_its_lengths() {
        let src: SocketAddrV4 = "10.77.0.11:1".parse().unwrap();
        let dst: SocketAddrV4 = "10.77.0.202:623".parse().unwrap();
        let payload = vec![0xa5; 301];
        let f = udp_frame(A, GW, src, dst, 1, &payload).unwrap();
        assert_eq!(f.len(), 14 + 20 + 8 + 301);
        assert_eq!(u16_at(&f, 16), 20 + 8 + 301);
        assert_eq!(parse_udp(&f).unwrap().payload, &payload[..]);
        assert!(udp_frame(A, GW, src, dst, 1, &vec![0; 70000]).is_none());
    }
}
