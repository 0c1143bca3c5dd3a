//! Tencent Cloud API 3.0 `TC3-HMAC-SHA256` signing (only `content-type` and `host` are signed).

use zeroize::Zeroizing;

use super::{hex_lower, hmac_sha256, sha256_hex, utc_date};

/// The algorithm name at the start of the string-to-sign and the `Authorization` header.
const ALGORITHM: &str = "TC3-HMAC-SHA256";
/// The headers this signer signs, in canonical order.
const SIGNED_HEADERS: &str = "content-type;host";

/// Everything that goes into a TC3 signature. No `Debug`: it holds the secret key.
#[derive(Clone, Copy)]
pub struct Tc3Input<'a> {
    /// `SecretId` (not secret; named in the credential scope).
    pub secret_id: &'a str,
    /// `SecretKey`.
    pub secret_key: &'a str,
    /// Service name, e.g. `bm` or `cvm`.
    pub service: &'a str,
    /// `host[:port]` exactly as sent in the `Host` header.
    pub host: &'a str,
    /// HTTP method as sent, e.g. `POST`.
    pub method: &'a str,
    /// The exact query string sent (without `?`); empty for POST.
    pub query: &'a str,
    /// The `Content-Type` header, byte for byte.
    pub content_type: &'a str,
    /// The exact body bytes (hashed, never copied).
    pub payload: &'a [u8],
    /// `X-TC-Timestamp`, Unix seconds.
    pub timestamp: i64,
}

/// The canonical request; it holds no secret because the payload is only hashed.
pub fn canonical_request(i: &Tc3Input) -> String {
    format!(
        "{}\n/\n{}\ncontent-type:{}\nhost:{}\n\n{SIGNED_HEADERS}\n{}",
        i.method,
        i.query,
        i.content_type,
        i.host,
        sha256_hex(i.payload)
    )
}

/// The string-to-sign: algorithm, timestamp, credential scope and canonical request hash.
pub fn string_to_sign(i: &Tc3Input) -> String {
    format!(
        "{ALGORITHM}\n{}\n{}/{}/tc3_request\n{}",
        i.timestamp,
        utc_date(i.timestamp),
        i.service,
        sha256_hex(canonical_request(i).as_bytes())
    )
}

/// The signature as lower-case hex, using the derived `TC3` date/service/`tc3_request` key.
pub fn signature(i: &Tc3Input) -> String {
    let mut key = Zeroizing::new(Vec::with_capacity(3 + i.secret_key.len()));
    key.extend_from_slice(b"TC3");
    key.extend_from_slice(i.secret_key.as_bytes());
    let k_date = Zeroizing::new(hmac_sha256(&key, utc_date(i.timestamp).as_bytes()));
    let k_service = Zeroizing::new(hmac_sha256(&*k_date, i.service.as_bytes()));
    let k_signing = Zeroizing::new(hmac_sha256(&*k_service, b"tc3_request"));
    hex_lower(&hmac_sha256(&*k_signing, string_to_sign(i).as_bytes()))
}

/// The `Authorization` header value.
pub fn authorization(i: &Tc3Input) -> String {
    format!(
        "{ALGORITHM} Credential={}/{}/{}/tc3_request, SignedHeaders={SIGNED_HEADERS}, Signature={}",
        i.secret_id,
        utc_date(i.timestamp),
        i.service,
        signature(i)
    )
}

/// The parts of a TC3 `Authorization` header, as parsed by the simulator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tc3Authorization {
    /// `SecretId` from the credential scope.
    pub secret_id: String,
    /// Scope date, `YYYY-MM-DD`.
    pub date: String,
    /// Scope service.
    pub service: String,
    /// `SignedHeaders` as sent, e.g. `content-type;host`.
    pub signed_headers: String,
    /// `Signature` as sent.
    pub signature: String,
}

/// Parses `TC3-HMAC-SHA256 Credential=…/date/service/tc3_request, SignedHeaders=…, Signature=…`.
pub fn parse_authorization(header: &str) -> Option<Tc3Authorization> {
    let rest = header.strip_prefix(ALGORITHM)?.strip_prefix(' ')?;
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let (name, value) = part.trim().split_once('=')?;
        let slot = match name {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => return None,
        };
        if slot.replace(value).is_some() {
            return None;
        }
    }
    let mut scope = credential?.split('/');
    let (secret_id, date, service) = (scope.next()?, scope.next()?, scope.next()?);
    if secret_id.is_empty() || scope.next()? != "tc3_request" || scope.next().is_some() {
        return None;
    }
    Some(Tc3Authorization {
        secret_id: secret_id.to_owned(),
        date: date.to_owned(),
        service: service.to_owned(),
        signed_headers: signed_headers?.to_owned(),
        signature: signature?.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE";
    const KEY: &str = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE";

    fn bm_post() -> Tc3Input<'static> {
        Tc3Input {
            secret_id: ID,
            secret_key: KEY,
            service: "bm",
            host: "bm.tencentcloudapi.com",
            method: "POST",
            query: "",
            content_type: "application/json",
            payload: br#"{"Password": "Abc123!@", "Operate": "Update"}"#,
            timestamp: 1_551_113_065,
        }
    }

    fn last_line(s: &str) -> &str {
        s.rsplit('\n').next().unwrap_or_default()
    }

    #[test]
    fn official_cvm_vector() {
        let i = Tc3Input {
            service: "cvm",
            host: "cvm.tencentcloudapi.com",
            content_type: "application/json; charset=utf-8",
            payload: br#"{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}"#,
            ..bm_post()
        };
        // The research doc's "hashed canonical request" is the payload hash (the canonical
        // request's last line); its "hashed StringToSign line" is the canonical request hash.
        assert_eq!(
            last_line(&canonical_request(&i)),
            "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
        );
        assert_eq!(
            string_to_sign(&i),
            "TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n\
             5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
        );
        assert_eq!(
            signature(&i),
            "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
        );
    }

    #[test]
    fn bm_post_vector() {
        let i = bm_post();
        assert_eq!(
            canonical_request(&i),
            "POST\n/\n\ncontent-type:application/json\nhost:bm.tencentcloudapi.com\n\n\
             content-type;host\n86a020f12736b09d6b6d57e8fc63348cb7ef8f46df06b58e01b3b3d461072814"
        );
        assert_eq!(
            last_line(&string_to_sign(&i)),
            "163a35a647a70b7d91e609ce5e8d7ad10db65756f138db095f75679b68f2953e"
        );
        assert_eq!(
            authorization(&i),
            "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/bm/tc3_request, \
             SignedHeaders=content-type;host, \
             Signature=3fe2f55ab4dccbf1e73234ffa45798015a83bf293e01a9cd3a637fc934ff5c69"
        );
    }

    #[test]
    fn bm_get_vector() {
        let i = Tc3Input {
            method: "GET",
            query: "Password=Abc123%21%40&Operate=Update",
            content_type: "application/x-www-form-urlencoded",
            payload: b"",
            ..bm_post()
        };
        assert_eq!(
            signature(&i),
            "8685cbce890a0834901b70a0eee149575447d06b755a8364275e106ac9e5ef9a"
        );
    }

    #[test]
    fn host_with_port_is_signed() {
        let local = Tc3Input {
            host: "127.0.0.1:8707",
            ..bm_post()
        };
        assert!(canonical_request(&local).contains("\nhost:127.0.0.1:8707\n"));
        assert_ne!(signature(&local), signature(&bm_post()));
        let no_port = Tc3Input {
            host: "127.0.0.1",
            ..bm_post()
        };
        assert_ne!(signature(&local), signature(&no_port));
    }

    #[test]
    fn parse_round_trip_and_rejects() {
        let i = bm_post();
        let parsed = parse_authorization(&authorization(&i)).expect("parses");
        assert_eq!(
            parsed,
            Tc3Authorization {
                secret_id: ID.into(),
                date: "2019-02-25".into(),
                service: "bm".into(),
                signed_headers: "content-type;host".into(),
                signature: signature(&i),
            }
        );
        for bad in [
            "",
            "TC3-HMAC-SHA256",
            "HMAC-SHA256 Credential=a/2019-02-25/bm/tc3_request, SignedHeaders=h, Signature=s",
            "TC3-HMAC-SHA256 Credential=a/2019-02-25/bm/tc3_request, SignedHeaders=h",
            "TC3-HMAC-SHA256 Credential=a/2019-02-25/bm/other, SignedHeaders=h, Signature=s",
            "TC3-HMAC-SHA256 Credential=a/2019-02-25/bm/tc3_request/x, SignedHeaders=h, Signature=s",
            "TC3-HMAC-SHA256 Credential=/2019-02-25/bm/tc3_request, SignedHeaders=h, Signature=s",
            "TC3-HMAC-SHA256 Credential=a/2019-02-25/bm/tc3_request, Signature=s, Signature=s",
            "TC3-HMAC-SHA256 Credential=a/2019-02-25/bm/tc3_request, SignedHeaders=h, Signature=s, X=y",
        ] {
            assert_eq!(parse_authorization(bad), None, "{bad:?}");
        }
    }
}
