//! Tencent Cloud legacy API 2.0 signing (`HmacSHA1` / `HmacSHA256` over sorted raw parameters)
//! and the `application/x-www-form-urlencoded` encoding its requests are sent in.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use zeroize::Zeroizing;

use super::{percent_decoded, plus_encode_into};

/// The HMAC a v2 signature uses, named by the `SignatureMethod` parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum V2Algorithm {
    /// `HmacSHA1` (the server's default when `SignatureMethod` is absent or anything else).
    HmacSha1,
    /// `HmacSHA256`.
    HmacSha256,
}

impl V2Algorithm {
    /// The `SignatureMethod` parameter value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HmacSha1 => "HmacSHA1",
            Self::HmacSha256 => "HmacSHA256",
        }
    }

    /// What the server verifies with: SHA-256 only for exactly `HmacSHA256`, otherwise SHA-1.
    pub fn from_signature_method(param: Option<&str>) -> Self {
        match param {
            Some("HmacSHA256") => Self::HmacSha256,
            _ => Self::HmacSha1,
        }
    }
}

impl From<crate::config::SignatureMethod> for V2Algorithm {
    fn from(m: crate::config::SignatureMethod) -> Self {
        match m {
            crate::config::SignatureMethod::HmacSha1 => Self::HmacSha1,
            crate::config::SignatureMethod::HmacSha256 => Self::HmacSha256,
        }
    }
}

/// `METHOD + host + path + "?" + name=value&…`, sorted by original name (byte order), with
/// `_` in names replaced by `.`, raw (unencoded) values, and `Signature` left out.
pub fn string_to_sign(
    method: &str,
    host: &str,
    path: &str,
    params: &[(&str, &str)],
) -> Zeroizing<String> {
    let mut signed: Vec<&(&str, &str)> = params.iter().filter(|(n, _)| *n != "Signature").collect();
    signed.sort_unstable();
    let len = method.len()
        + host.len()
        + path.len()
        + 1
        + signed
            .iter()
            .map(|(n, v)| n.len() + 1 + v.len())
            .sum::<usize>()
        + signed.len().saturating_sub(1);
    let mut out = Zeroizing::new(String::with_capacity(len));
    out.extend(method.chars().map(|c| c.to_ascii_uppercase()));
    out.push_str(host);
    out.push_str(path);
    out.push('?');
    for (k, (name, value)) in signed.into_iter().enumerate() {
        if k > 0 {
            out.push('&');
        }
        out.extend(name.chars().map(|c| if c == '_' { '.' } else { c }));
        out.push('=');
        out.push_str(value);
    }
    debug_assert_eq!(out.len(), len);
    out
}

/// `Signature`: standard padded base64 of the HMAC of `string_to_sign` under `secret_key`.
pub fn sign(secret_key: &str, algorithm: V2Algorithm, string_to_sign: &str) -> String {
    let (key, msg) = (secret_key.as_bytes(), string_to_sign.as_bytes());
    match algorithm {
        V2Algorithm::HmacSha1 => {
            let mut mac = Hmac::<Sha1>::new_from_slice(key).expect("HMAC takes any key length");
            mac.update(msg);
            STANDARD.encode(mac.finalize().into_bytes())
        }
        V2Algorithm::HmacSha256 => STANDARD.encode(super::hmac_sha256(key, msg)),
    }
}

/// `name=value&…` in the given order, encoded like Python `urlencode` (`quote_plus`: unreserved
/// characters kept, space as `+`, the rest `%XX`), in a buffer sized for the worst case.
pub fn form_encode(params: &[(&str, &str)]) -> Zeroizing<Vec<u8>> {
    let worst = params
        .iter()
        .map(|(n, v)| 3 * (n.len() + v.len()) + 2)
        .sum();
    let mut out = Zeroizing::new(Vec::with_capacity(worst));
    for (k, (name, value)) in params.iter().enumerate() {
        if k > 0 {
            out.push(b'&');
        }
        plus_encode_into(name.as_bytes(), &mut out);
        out.push(b'=');
        plus_encode_into(value.as_bytes(), &mut out);
    }
    debug_assert!(out.len() <= worst);
    out
}

/// Parses a form body (or query string) into `(name, value)` pairs in order; values are
/// zeroized on drop, invalid UTF-8 is replaced with U+FFFD.
pub fn form_decode(body: &[u8]) -> Vec<(String, Zeroizing<String>)> {
    body.split(|&b| b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = match pair.iter().position(|&b| b == b'=') {
                Some(eq) => (&pair[..eq], &pair[eq + 1..]),
                None => (pair, &[][..]),
            };
            let name = String::from_utf8_lossy(&percent_decoded(name, true)).into_owned();
            (name, zeroizing_utf8(percent_decoded(value, true)))
        })
        .collect()
}

/// Turns decoded bytes into a zeroizing `String` without leaving an unzeroized copy behind.
fn zeroizing_utf8(bytes: Vec<u8>) -> Zeroizing<String> {
    match String::from_utf8(bytes) {
        Ok(s) => Zeroizing::new(s),
        Err(e) => {
            let bytes = Zeroizing::new(e.into_bytes());
            Zeroizing::new(String::from_utf8_lossy(&bytes).into_owned())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "bm.api.qcloud.com";
    const PATH: &str = "/v2/index.php";
    const BM_ID: &str = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE";
    const BM_KEY: &str = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE";

    /// The documented cvm v2 string-to-sign with the given `SignatureMethod`.
    fn cvm_sts(method: V2Algorithm) -> Zeroizing<String> {
        string_to_sign(
            "GET",
            "cvm.api.qcloud.com",
            PATH,
            &[
                ("Timestamp", "1465185768"),
                ("SignatureMethod", method.as_str()),
                ("InstanceIds_0", "ins-09dx96dg"),
                ("Region", "ap-guangzhou"),
                ("Nonce", "11886"),
                ("SecretId", "AKIDz8krbsJ5yKBZQpn74WFkmLPx3gnPhESA"),
                ("Action", "DescribeInstances"),
            ],
        )
    }

    #[test]
    fn cvm_vectors() {
        let sha256 = cvm_sts(V2Algorithm::HmacSha256);
        assert_eq!(
            sha256.as_str(),
            "GETcvm.api.qcloud.com/v2/index.php?Action=DescribeInstances&InstanceIds.0=ins-09dx96dg\
             &Nonce=11886&Region=ap-guangzhou&SecretId=AKIDz8krbsJ5yKBZQpn74WFkmLPx3gnPhESA\
             &SignatureMethod=HmacSHA256&Timestamp=1465185768"
        );
        let key = "Gu5t9xGARNpq86cd98joQYCN3Cozk1qA";
        let sig = sign(key, V2Algorithm::HmacSha256, &sha256);
        assert_eq!(sig, "0EEm/HtGRr/VJXTAD9tYMth1Bzm3lLHz5RCDv1GdM8s=");
        assert_eq!(
            &*form_encode(&[("Signature", &sig)]),
            b"Signature=0EEm%2FHtGRr%2FVJXTAD9tYMth1Bzm3lLHz5RCDv1GdM8s%3D"
        );
        let sha1 = cvm_sts(V2Algorithm::HmacSha1);
        assert_eq!(
            sign(key, V2Algorithm::HmacSha1, &sha1),
            "nPVnY6njQmwQ8ciqbPl5Qe+Oru4="
        );
    }

    #[test]
    fn underscore_in_name_signs_as_dot() {
        let with = |name| string_to_sign("GET", HOST, PATH, &[(name, "ins-1"), ("Action", "X")]);
        assert_eq!(
            with("InstanceIds_0").as_str(),
            with("InstanceIds.0").as_str()
        );
        assert!(with("InstanceIds_0").ends_with("?Action=X&InstanceIds.0=ins-1"));
        // Sorting is by the name as sent (Python `sorted(params.keys())`), before the rename:
        // '_' sorts after upper-case letters, '.' before them.
        let sts = string_to_sign("GET", HOST, PATH, &[("A_b", "1"), ("AZ", "2")]);
        assert!(sts.ends_with("?AZ=2&A.b=1"), "{}", sts.as_str());
    }

    #[test]
    fn api3_v1_style_vector() {
        let sts = string_to_sign(
            "get",
            "cvm.tencentcloudapi.com",
            "/",
            &[
                ("Action", "DescribeInstances"),
                ("InstanceIds.0", "ins-09dx96dg"),
                ("Limit", "20"),
                ("Nonce", "11886"),
                ("Offset", "0"),
                ("Region", "ap-guangzhou"),
                ("SecretId", "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"),
                ("Timestamp", "1465185768"),
                ("Version", "2017-03-12"),
            ],
        );
        assert_eq!(
            sts.as_str(),
            "GETcvm.tencentcloudapi.com/?Action=DescribeInstances&InstanceIds.0=ins-09dx96dg\
             &Limit=20&Nonce=11886&Offset=0&Region=ap-guangzhou\
             &SecretId=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE&Timestamp=1465185768&Version=2017-03-12"
        );
        assert_eq!(
            sign(BM_KEY, V2Algorithm::HmacSha1, &sts),
            "EliP9YW3pW28FpsEdkXt/+WcGeI="
        );
    }

    /// The documented bm `SetOutBandVPNAuthPwd` parameters, in the order they are sent.
    fn bm_params(method: V2Algorithm) -> [(&'static str, &'static str); 8] {
        [
            ("Action", "SetOutBandVPNAuthPwd"),
            ("Nonce", "52684"),
            ("Region", "gz"),
            ("SecretId", BM_ID),
            ("SignatureMethod", method.as_str()),
            ("Timestamp", "1508212392"),
            ("createOrUpdate", "update"),
            ("password", "Abc#123(x)"),
        ]
    }

    #[test]
    fn bm_get_sha1_vector_and_query() {
        let params = bm_params(V2Algorithm::HmacSha1);
        let sts = string_to_sign("GET", HOST, PATH, &params);
        assert_eq!(
            sts.as_str(),
            "GETbm.api.qcloud.com/v2/index.php?Action=SetOutBandVPNAuthPwd&Nonce=52684&Region=gz\
             &SecretId=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE&SignatureMethod=HmacSHA1\
             &Timestamp=1508212392&createOrUpdate=update&password=Abc#123(x)"
        );
        let sig = sign(BM_KEY, V2Algorithm::HmacSha1, &sts);
        assert_eq!(sig, "K7xrEFIbUfoaRptmjCQ924KWbmc=");
        let mut all = params.to_vec();
        all.push(("Signature", &sig));
        let query = form_encode(&all);
        assert_eq!(
            std::str::from_utf8(&query).expect("ascii"),
            "Action=SetOutBandVPNAuthPwd&Nonce=52684&Region=gz\
             &SecretId=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE&SignatureMethod=HmacSHA1\
             &Timestamp=1508212392&createOrUpdate=update&password=Abc%23123%28x%29\
             &Signature=K7xrEFIbUfoaRptmjCQ924KWbmc%3D"
        );
        // `Signature` is ignored when re-signing, as the simulator does with the decoded form.
        assert_eq!(
            string_to_sign("GET", HOST, PATH, &all).as_str(),
            sts.as_str()
        );
    }

    #[test]
    fn bm_post_sha256_vector() {
        let sts = string_to_sign("POST", HOST, PATH, &bm_params(V2Algorithm::HmacSha256));
        assert!(sts.starts_with("POSTbm.api.qcloud.com/v2/index.php?Action="));
        assert_eq!(
            sign(BM_KEY, V2Algorithm::HmacSha256, &sts),
            "x3u+5qrpa+OdghlK0zHdRMi/t4o7A6G0+8Ln0D07w+A="
        );
    }

    #[test]
    fn no_signature_method_vector() {
        let sts = string_to_sign(
            "GET",
            HOST,
            PATH,
            &[
                ("Action", "SetOutBandVPNAuthPwd"),
                ("Nonce", "11886"),
                ("Region", "ap-guangzhou"),
                ("SecretId", BM_ID),
                ("Timestamp", "1465185768"),
                ("createOrUpdate", "create"),
                ("password", "Abc123!@"),
            ],
        );
        assert_eq!(
            sign(BM_KEY, V2Algorithm::HmacSha1, &sts),
            "oNMKShU1Ql8F/Pmd/o0TIgL4qos="
        );
    }

    #[test]
    fn string_to_sign_does_not_reallocate() {
        let params = bm_params(V2Algorithm::HmacSha1);
        let sts = string_to_sign("GET", HOST, PATH, &params);
        assert_eq!(sts.capacity(), sts.len());
    }

    #[test]
    fn algorithm_names() {
        assert_eq!(V2Algorithm::HmacSha1.as_str(), "HmacSHA1");
        assert_eq!(V2Algorithm::HmacSha256.as_str(), "HmacSHA256");
        assert_eq!(
            V2Algorithm::from_signature_method(Some("HmacSHA256")),
            V2Algorithm::HmacSha256
        );
        for other in [None, Some("HmacSHA1"), Some("hmacsha256"), Some("")] {
            assert_eq!(
                V2Algorithm::from_signature_method(other),
                V2Algorithm::HmacSha1
            );
        }
        assert_eq!(
            V2Algorithm::from(crate::config::SignatureMethod::HmacSha256),
            V2Algorithm::HmacSha256
        );
    }

    #[test]
    fn form_round_trip() {
        let params = [
            ("password", "p a+s/s=w&o%r~d*é"),
            ("Instance_Ids.0", ""),
            ("x", "Abc#123(x)"),
        ];
        let body = form_encode(&params);
        assert_eq!(
            std::str::from_utf8(&body).expect("ascii"),
            "password=p+a%2Bs%2Fs%3Dw%26o%25r~d%2A%C3%A9&Instance_Ids.0=&x=Abc%23123%28x%29"
        );
        assert!(body.capacity() >= body.len());
        // The worst case (every byte escaped) fills the buffer without growing it, so no
        // unwiped copy of a password is left behind by a reallocation.
        let worst = "\u{e9}#".repeat(40);
        let body = form_encode(&[("password", &worst)]);
        assert_eq!(body.len(), "password=".len() + 3 * worst.len());
        assert_eq!(body.capacity(), 3 * ("password".len() + worst.len()) + 2);
        let body = form_encode(&params);
        let decoded = form_decode(&body);
        let pairs: Vec<(&str, &str)> = decoded
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        assert_eq!(pairs, params);
    }

    #[test]
    fn form_decode_edge_cases() {
        let decoded = form_decode(b"a&&b=1=2&c=%zz&d=%41%2b+&=e&f=%FF");
        let pairs: Vec<(&str, &str)> = decoded
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("a", ""),
                ("b", "1=2"),
                ("c", "%zz"),
                ("d", "A+ "),
                ("", "e"),
                ("f", "\u{fffd}")
            ]
        );
        assert!(form_decode(b"").is_empty());
    }
}
