//! The one RMCP+ check the lab's BMC endpoint makes before a datagram reaches `ipmi_sim`:
//! `ipmi_sim` 2.0.33 opens a session with cipher suite 0 (no authentication) whatever the
//! password, so an Open Session request that asks for no authentication, no integrity or
//! no confidentiality is dropped (IPMI 2.0 §13.17; offsets checked against the requests
//! `ipmitool -I lanplus` sends).

/// RMCP header (4 bytes) + RMCP+ session header up to the payload length (12 bytes).
const PAYLOAD_AT: usize = 16;
/// RMCP+ payload type of an Open Session request.
const OPEN_SESSION_REQUEST: u8 = 0x10;

/// Why `datagram` must not reach the BMC, or `None` to pass it on. Only RMCP+ Open Session
/// requests are judged; everything else (session traffic, RMCP pings, garbage, which the
/// BMC rejects itself) passes.
pub fn refuse(datagram: &[u8]) -> Option<&'static str> {
    // RMCP version 6, class IPMI (7); auth type RMCP+ (6); payload type without the
    // encrypted/authenticated bits.
    let rmcpp = datagram.len() > 5
        && datagram[0] == 0x06
        && datagram[3] & 0x1f == 0x07
        && datagram[4] == 0x06;
    if !rmcpp || datagram[5] & 0x3f != OPEN_SESSION_REQUEST {
        return None;
    }
    let Some(p) = datagram.get(PAYLOAD_AT..PAYLOAD_AT + 32) else {
        return Some("a short RMCP+ Open Session request");
    };
    // Each algorithm record: type, 2 reserved, length (0 = the BMC's default, which is
    // never "none"; 8 = an algorithm byte follows).
    for (at, what) in [
        (8, "no authentication (cipher suite 0)"),
        (16, "no integrity"),
        (24, "no confidentiality"),
    ] {
        if p[at + 3] == 8 && p[at + 4] & 0x3f == 0 {
            return Some(what);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ipmitool -I lanplus -C 3`'s Open Session request, as `ipmi_sim -d` logged it.
    const SUITE_3: [u8; 48] = [
        0x06, 0x00, 0xff, 0x07, 0x06, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0x20, 0x00, // headers
        0x00, 0x00, 0x00, 0x00, 0xa4, 0xa3, 0xa2, 0xa0, // tag, privilege, console SID
        0x00, 0x00, 0x00, 0x08, 0x01, 0x00, 0x00, 0x00, // RAKP-HMAC-SHA1
        0x01, 0x00, 0x00, 0x08, 0x01, 0x00, 0x00, 0x00, // HMAC-SHA1-96
        0x02, 0x00, 0x00, 0x08, 0x01, 0x00, 0x00, 0x00, // AES-CBC-128
    ];

    #[test]
    fn cipher_suite_3_passes_and_suite_0_is_refused() {
        assert_eq!(refuse(&SUITE_3), None);
        let mut zero = SUITE_3;
        zero[28] = 0;
        zero[36] = 0;
        zero[44] = 0;
        assert_eq!(refuse(&zero), Some("no authentication (cipher suite 0)"));
        let mut no_conf = SUITE_3;
        no_conf[44] = 0;
        assert_eq!(refuse(&no_conf), Some("no confidentiality"));
        // Defaults (length 0) are the BMC's own algorithms, never "none".
        let mut defaults = SUITE_3;
        for at in [27, 35, 43] {
            defaults[at] = 0;
            defaults[at + 1] = 0;
        }
        assert_eq!(refuse(&defaults), None);
    }

    #[test]
    fn other_traffic_and_garbage_pass_or_are_refused_without_panicking() {
        assert_eq!(refuse(&[]), None);
        assert_eq!(
            refuse(&SUITE_3[..20]),
            Some("a short RMCP+ Open Session request")
        );
        let mut rakp1 = SUITE_3;
        rakp1[5] = 0x12;
        assert_eq!(refuse(&rakp1), None);
        for len in 0..SUITE_3.len() {
            let _ = refuse(&SUITE_3[..len]);
        }
    }
}
