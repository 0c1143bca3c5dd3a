//! Huawei Cloud `SDK-HMAC-SHA256` AK/SK signing (`Access=` form) and the Open Telekom Cloud
//! scoped variant (`Credential=AK/yyyymmdd///sdk_request`, derived key).

use zeroize::Zeroizing;

pub use crate::config::AkskVariant;

use super::{hex_lower, hmac_sha256, percent_decoded, percent_encoded, sha256_hex};

/// The algorithm name at the start of the string-to-sign and the `Authorization` header.
const ALGORITHM: &str = "SDK-HMAC-SHA256";

/// Everything that goes into an AK/SK signature. No `Debug`: the payload may hold passwords.
#[derive(Clone, Copy)]
pub struct AkskInput<'a> {
    /// HTTP method, e.g. `PUT` (upper-cased for signing).
    pub method: &'a str,
    /// `host[:port]` exactly as sent in the `Host` header.
    pub host: &'a str,
    /// Raw request path, e.g. `/v2/{project}/instances/{id}/password`.
    pub path: &'a str,
    /// Query parameters, unencoded; sent as [`canonical_query`].
    pub query: &'a [(&'a str, &'a str)],
    /// Headers to sign besides `Host`, e.g. `Content-Type`, `X-Project-Id`, `X-Sdk-Date`.
    /// Names containing `_` and any `Host` entry are ignored.
    pub headers: &'a [(&'a str, &'a str)],
    /// The exact body bytes (hashed, never copied).
    pub payload: &'a [u8],
}

/// Sorted `enc(name)=enc(value)` pairs joined by `&` (RFC 3986 encoding, space as `%20`); this
/// is also the query string to send.
pub fn canonical_query(query: &[(&str, &str)]) -> String {
    let mut pairs = query.to_vec();
    pairs.sort_unstable();
    let mut out = String::new();
    for (k, (name, value)) in pairs.into_iter().enumerate() {
        if k > 0 {
            out.push('&');
        }
        out.extend(percent_encoded(name.as_bytes()));
        out.push('=');
        out.extend(percent_encoded(value.as_bytes()));
    }
    out
}

/// The path decoded, each segment re-encoded, with a trailing `/` always present.
fn canonical_uri(path: &str) -> String {
    let decoded = percent_decoded(path.as_bytes(), false);
    let mut out = String::with_capacity(path.len() + 1);
    for (k, segment) in decoded.split(|&b| b == b'/').enumerate() {
        if k > 0 {
            out.push('/');
        }
        out.extend(percent_encoded(segment));
    }
    if !out.ends_with('/') {
        out.push('/');
    }
    out
}

/// The signed headers as sorted `(lower-case name, trimmed value)` pairs, `host` included.
fn signed_header_list<'a>(i: &AkskInput<'a>) -> Vec<(String, &'a str)> {
    let others = i
        .headers
        .iter()
        .filter(|(n, _)| !n.contains('_') && !n.eq_ignore_ascii_case("host"));
    let mut list: Vec<(String, &str)> = std::iter::once(("host".to_owned(), i.host.trim()))
        .chain(others.map(|(n, v)| (n.to_ascii_lowercase(), v.trim())))
        .collect();
    list.sort_by(|a, b| a.0.cmp(&b.0));
    list
}

/// The `SignedHeaders` list, e.g. `content-type;host;x-sdk-date`.
fn signed_headers(list: &[(String, &str)]) -> String {
    list.iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(";")
}

/// A header value from `i.headers` by case-insensitive name, trimmed.
fn header<'a>(i: &AkskInput<'a>, name: &str) -> Option<&'a str> {
    i.headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

/// The canonical request; it holds no password because the payload is only hashed.
pub fn canonical_request(i: &AkskInput) -> String {
    let list = signed_header_list(i);
    let headers: String = list.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
    let payload_hash =
        header(i, "X-Sdk-Content-Sha256").map_or_else(|| sha256_hex(i.payload), str::to_owned);
    format!(
        "{}\n{}\n{}\n{headers}\n{}\n{payload_hash}",
        i.method.to_ascii_uppercase(),
        canonical_uri(i.path),
        canonical_query(i.query),
        signed_headers(&list),
    )
}

/// `yyyymmdd` of an `X-Sdk-Date` value (the OTC credential scope date).
fn scope_date(sdk_date: &str) -> &str {
    sdk_date.get(..8).unwrap_or(sdk_date)
}

/// The string-to-sign; the date comes from the `X-Sdk-Date` header (empty if it is missing).
pub fn string_to_sign(i: &AkskInput, variant: AkskVariant) -> String {
    let date = header(i, "X-Sdk-Date").unwrap_or_default();
    let hash = sha256_hex(canonical_request(i).as_bytes());
    match variant {
        AkskVariant::Huawei => format!("{ALGORITHM}\n{date}\n{hash}"),
        AkskVariant::Otc => {
            format!(
                "{ALGORITHM}\n{date}\n{}///sdk_request\n{hash}",
                scope_date(date)
            )
        }
    }
}

/// The signature as lower-case hex: HMAC under the SK itself (Huawei) or the derived OTC key.
pub fn signature(sk: &str, i: &AkskInput, variant: AkskVariant) -> String {
    let sts = string_to_sign(i, variant);
    match variant {
        AkskVariant::Huawei => hex_lower(&hmac_sha256(sk.as_bytes(), sts.as_bytes())),
        AkskVariant::Otc => {
            let mut key = Zeroizing::new(Vec::with_capacity(3 + sk.len()));
            key.extend_from_slice(b"SDK");
            key.extend_from_slice(sk.as_bytes());
            let date = scope_date(header(i, "X-Sdk-Date").unwrap_or_default());
            let k_date = Zeroizing::new(hmac_sha256(&key, date.as_bytes()));
            let k_region = Zeroizing::new(hmac_sha256(&*k_date, b""));
            let k_service = Zeroizing::new(hmac_sha256(&*k_region, b""));
            let k_signing = Zeroizing::new(hmac_sha256(&*k_service, b"sdk_request"));
            hex_lower(&hmac_sha256(&*k_signing, sts.as_bytes()))
        }
    }
}

/// The `Authorization` header value for `variant`.
pub fn authorization(ak: &str, sk: &str, i: &AkskInput, variant: AkskVariant) -> String {
    let signed = signed_headers(&signed_header_list(i));
    let signature = signature(sk, i, variant);
    match variant {
        AkskVariant::Huawei => {
            format!("{ALGORITHM} Access={ak}, SignedHeaders={signed}, Signature={signature}")
        }
        AkskVariant::Otc => {
            let date = scope_date(header(i, "X-Sdk-Date").unwrap_or_default());
            format!(
                "{ALGORITHM} Credential={ak}/{date}///sdk_request, SignedHeaders={signed}, \
                 Signature={signature}"
            )
        }
    }
}

/// The parts of an `SDK-HMAC-SHA256` `Authorization` header, as parsed by the simulator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AkskAuthorization {
    /// `Access=` means Huawei, `Credential=` means OTC.
    pub variant: AkskVariant,
    /// The access key.
    pub access_key: String,
    /// The OTC scope date (`yyyymmdd`); `None` for Huawei.
    pub date_scope: Option<String>,
    /// `SignedHeaders`, split on `;`.
    pub signed_headers: Vec<String>,
    /// `Signature` as sent.
    pub signature: String,
}

/// Parses `SDK-HMAC-SHA256 Access=AK|Credential=AK/yyyymmdd///sdk_request, SignedHeaders=…,
/// Signature=…` (OTC scopes with a region or service are refused).
pub fn parse_authorization(header: &str) -> Option<AkskAuthorization> {
    let rest = header.strip_prefix(ALGORITHM)?.strip_prefix(' ')?;
    let (mut access, mut credential, mut signed, mut signature) = (None, None, None, None);
    for part in rest.split(',') {
        let (name, value) = part.trim().split_once('=')?;
        let slot = match name {
            "Access" => &mut access,
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed,
            "Signature" => &mut signature,
            _ => return None,
        };
        if slot.replace(value).is_some() {
            return None;
        }
    }
    let (variant, access_key, date_scope) = match (access, credential) {
        (Some(ak), None) => (AkskVariant::Huawei, ak, None),
        (None, Some(credential)) => {
            let mut scope = credential.split('/');
            let (ak, date) = (scope.next()?, scope.next()?);
            let rest: Vec<&str> = scope.collect();
            if rest != ["", "", "sdk_request"] {
                return None;
            }
            (AkskVariant::Otc, ak, Some(date.to_owned()))
        }
        _ => return None,
    };
    let signed_headers: Vec<String> = signed?.split(';').map(str::to_owned).collect();
    if access_key.is_empty() || signed_headers.iter().any(String::is_empty) {
        return None;
    }
    Some(AkskAuthorization {
        variant,
        access_key: access_key.to_owned(),
        date_scope,
        signed_headers,
        signature: signature?.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const AK: &str = "AKEXAMPLE0000000TEST";
    const SK: &str = "SKEXAMPLE0000000000000000000000000000TEST";
    const DATE: &str = "20240102T030405Z";
    const PROJECT: &str = "0123456789abcdef0123456789abcdef";
    const DCS_HOST: &str = "dcs.cn-north-4.myhuaweicloud.com";
    const V1_BODY: &[u8] =
        br#"{"old_password": "OldPassw0rd!", "new_password": "NewPassw0rd#2024"}"#;
    const V1_PATH: &str = "/v2/0123456789abcdef0123456789abcdef/instances/\
                           11111111-2222-3333-4444-555555555555/password";

    #[test]
    fn v0_official_example() {
        let query = [
            ("limit", "2"),
            ("marker", "13551d6b-755d-4757-b956-536f674975c0"),
        ];
        let headers = [
            ("Content-Type", "application/json"),
            ("X-Sdk-Date", "20191115T033655Z"),
        ];
        let i = AkskInput {
            method: "GET",
            host: "service.region.example.com",
            path: "/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs",
            query: &query,
            headers: &headers,
            payload: b"",
        };
        assert_eq!(
            canonical_request(&i),
            "GET\n/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs/\n\
             limit=2&marker=13551d6b-755d-4757-b956-536f674975c0\n\
             content-type:application/json\nhost:service.region.example.com\n\
             x-sdk-date:20191115T033655Z\n\n\
             content-type;host;x-sdk-date\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            authorization(
                "QTWAOYTTINDUT2QVKYUC",
                "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc",
                &i,
                AkskVariant::Huawei
            ),
            "SDK-HMAC-SHA256 Access=QTWAOYTTINDUT2QVKYUC, \
             SignedHeaders=content-type;host;x-sdk-date, \
             Signature=7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe"
        );
    }

    #[test]
    fn v1_dcs_change_password() {
        let headers = [
            ("Content-Type", "application/json;charset=UTF-8"),
            ("X-Sdk-Date", DATE),
            ("X-Project-Id", PROJECT),
        ];
        let i = AkskInput {
            method: "PUT",
            host: DCS_HOST,
            path: V1_PATH,
            query: &[],
            headers: &headers,
            payload: V1_BODY,
        };
        assert_eq!(
            canonical_request(&i),
            "PUT\n/v2/0123456789abcdef0123456789abcdef/instances/\
             11111111-2222-3333-4444-555555555555/password/\n\n\
             content-type:application/json;charset=UTF-8\n\
             host:dcs.cn-north-4.myhuaweicloud.com\n\
             x-project-id:0123456789abcdef0123456789abcdef\n\
             x-sdk-date:20240102T030405Z\n\n\
             content-type;host;x-project-id;x-sdk-date\n\
             2cdc1c7a90d1a274a8a8530b35a900ff4b106dcd2539ee5b8e249b3244898163"
        );
        assert_eq!(
            string_to_sign(&i, AkskVariant::Huawei),
            "SDK-HMAC-SHA256\n20240102T030405Z\n\
             e6d0111d20f8bf2125d32c16dc8ae400cdcd8ea5e5055a2e8361716c02cf2404"
        );
        assert_eq!(
            authorization(AK, SK, &i, AkskVariant::Huawei),
            "SDK-HMAC-SHA256 Access=AKEXAMPLE0000000TEST, \
             SignedHeaders=content-type;host;x-project-id;x-sdk-date, \
             Signature=e808757af82aa8c328334f17f01b1a8218e70ec81dcf30df04ef19a4ffb5d581"
        );
    }

    #[test]
    fn v2_query_encoding() {
        let query = [
            ("name", "my redis/1"),
            ("limit", "10"),
            ("include_failure", "true"),
        ];
        let headers = [("X-Project-Id", PROJECT), ("X-Sdk-Date", DATE)];
        let i = AkskInput {
            method: "GET",
            host: DCS_HOST,
            path: "/v2/0123456789abcdef0123456789abcdef/instances",
            query: &query,
            headers: &headers,
            payload: b"",
        };
        assert_eq!(
            canonical_query(&query),
            "include_failure=true&limit=10&name=my%20redis%2F1"
        );
        assert_eq!(
            canonical_request(&i),
            "GET\n/v2/0123456789abcdef0123456789abcdef/instances/\n\
             include_failure=true&limit=10&name=my%20redis%2F1\n\
             host:dcs.cn-north-4.myhuaweicloud.com\n\
             x-project-id:0123456789abcdef0123456789abcdef\n\
             x-sdk-date:20240102T030405Z\n\n\
             host;x-project-id;x-sdk-date\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert!(
            string_to_sign(&i, AkskVariant::Huawei)
                .ends_with("\n0506a6832c41ce4a33a76a53807f03fcc52818824ca66bed50f83f5f9705215b")
        );
        assert_eq!(
            authorization(AK, SK, &i, AkskVariant::Huawei),
            "SDK-HMAC-SHA256 Access=AKEXAMPLE0000000TEST, SignedHeaders=host;x-project-id;x-sdk-date, \
             Signature=e7607349b2f3e765e010ad89d8e570781a999a89be4dc25f7ad517179771f3e4"
        );
    }

    #[test]
    fn v3_dcs_show_instance() {
        let headers = [
            ("Content-Type", "application/json"),
            ("X-Project-Id", PROJECT),
            ("X-Sdk-Date", DATE),
        ];
        let i = AkskInput {
            method: "GET",
            host: DCS_HOST,
            path: "/v2/0123456789abcdef0123456789abcdef/instances/11111111-2222-3333-4444-555555555555",
            query: &[],
            headers: &headers,
            payload: b"",
        };
        assert_eq!(
            authorization(AK, SK, &i, AkskVariant::Huawei),
            "SDK-HMAC-SHA256 Access=AKEXAMPLE0000000TEST, \
             SignedHeaders=content-type;host;x-project-id;x-sdk-date, \
             Signature=067befe91b6278e5386fd7632636bb8eb6601a32fb48537a3f570ea3b7215aa6"
        );
    }

    #[test]
    fn v4_iam_temporary_credentials() {
        let headers = [
            ("Content-Type", "application/json;charset=UTF-8"),
            ("X-Sdk-Date", DATE),
            ("X-Domain-Id", "fedcba9876543210fedcba9876543210"),
            ("X-Security-Token", "EXAMPLE-SECURITY-TOKEN"),
            ("Host", "ignored.example.com"),
        ];
        let i = AkskInput {
            method: "POST",
            host: "iam.myhuaweicloud.com",
            path: "/v3/users/aaaabbbbccccddddeeeeffff00001111/password",
            query: &[],
            headers: &headers,
            payload: br#"{"user": {"password": "NewPassw0rd#2024", "original_password": "OldPassw0rd!"}}"#,
        };
        assert_eq!(
            canonical_request(&i),
            "POST\n/v3/users/aaaabbbbccccddddeeeeffff00001111/password/\n\n\
             content-type:application/json;charset=UTF-8\n\
             host:iam.myhuaweicloud.com\n\
             x-domain-id:fedcba9876543210fedcba9876543210\n\
             x-sdk-date:20240102T030405Z\n\
             x-security-token:EXAMPLE-SECURITY-TOKEN\n\n\
             content-type;host;x-domain-id;x-sdk-date;x-security-token\n\
             d65083e42d9d7810f388e7cca752224b946f033e45005a558bfc52dae492b9a6"
        );
        assert!(
            string_to_sign(&i, AkskVariant::Huawei)
                .ends_with("\n2052a32a275bb0a65a837fe75232914262744ab6ab10c9682b2c424e3b5add59")
        );
        assert_eq!(
            authorization(AK, SK, &i, AkskVariant::Huawei),
            "SDK-HMAC-SHA256 Access=AKEXAMPLE0000000TEST, \
             SignedHeaders=content-type;host;x-domain-id;x-sdk-date;x-security-token, \
             Signature=5c84aa906bfdfe1c6bfdfa6488e9eacbb662ad33ae8279dac18187e8912e89ba"
        );
    }

    #[test]
    fn otc_credential_variant() {
        let headers = [
            ("Content-Type", "application/json;charset=UTF-8"),
            ("X-Sdk-Date", DATE),
        ];
        let i = AkskInput {
            method: "PUT",
            host: "dcs.eu-de.otc.t-systems.com",
            path: V1_PATH,
            query: &[],
            headers: &headers,
            payload: V1_BODY,
        };
        let cr = canonical_request(&i);
        assert!(cr.contains("\nhost:dcs.eu-de.otc.t-systems.com\nx-sdk-date:20240102T030405Z\n\n"));
        assert!(cr.ends_with("\n2cdc1c7a90d1a274a8a8530b35a900ff4b106dcd2539ee5b8e249b3244898163"));
        let sts = string_to_sign(&i, AkskVariant::Otc);
        assert_eq!(
            sts,
            "SDK-HMAC-SHA256\n20240102T030405Z\n20240102///sdk_request\n\
             e7563710f3cbebabbefc152dcc15f7195fa3c6de54b0ba3c68e160a9f269039d"
        );
        assert_eq!(
            authorization(AK, SK, &i, AkskVariant::Otc),
            "SDK-HMAC-SHA256 Credential=AKEXAMPLE0000000TEST/20240102///sdk_request, \
             SignedHeaders=content-type;host;x-sdk-date, \
             Signature=3958fb66eea93a9da9f3f25d862a0ed52752b947d67d9ea0828d88fd48243b73"
        );
    }

    #[test]
    fn host_port_underscores_and_path_encoding() {
        let headers = [("X-Sdk-Date", DATE), ("X_Ignored", "x")];
        let base = AkskInput {
            method: "get",
            host: "127.0.0.1:8707",
            path: "/v1/a b/%7Ec",
            query: &[],
            headers: &headers,
            payload: b"",
        };
        let cr = canonical_request(&base);
        assert!(
            cr.starts_with("GET\n/v1/a%20b/~c/\n\nhost:127.0.0.1:8707\nx-sdk-date:"),
            "{cr}"
        );
        assert!(cr.contains("\n\nhost;x-sdk-date\n"));
        let other = AkskInput {
            host: "127.0.0.1",
            ..base
        };
        assert_ne!(
            signature(SK, &base, AkskVariant::Huawei),
            signature(SK, &other, AkskVariant::Huawei)
        );
        assert_eq!(canonical_uri(""), "/");
        assert_eq!(canonical_uri("/already/"), "/already/");
        let unsigned = [
            ("X-Sdk-Date", DATE),
            ("X-Sdk-Content-Sha256", "UNSIGNED-PAYLOAD"),
        ];
        let i = AkskInput {
            headers: &unsigned,
            payload: b"ignored",
            ..base
        };
        assert!(canonical_request(&i).ends_with("\nUNSIGNED-PAYLOAD"));
    }

    #[test]
    fn parse_round_trip_and_rejects() {
        let headers = [("Content-Type", "application/json"), ("X-Sdk-Date", DATE)];
        let i = AkskInput {
            method: "GET",
            host: DCS_HOST,
            path: "/v2/x",
            query: &[],
            headers: &headers,
            payload: b"",
        };
        let signed = vec![
            "content-type".to_owned(),
            "host".into(),
            "x-sdk-date".into(),
        ];
        assert_eq!(
            parse_authorization(&authorization(AK, SK, &i, AkskVariant::Huawei)),
            Some(AkskAuthorization {
                variant: AkskVariant::Huawei,
                access_key: AK.into(),
                date_scope: None,
                signed_headers: signed.clone(),
                signature: signature(SK, &i, AkskVariant::Huawei),
            })
        );
        assert_eq!(
            parse_authorization(&authorization(AK, SK, &i, AkskVariant::Otc)),
            Some(AkskAuthorization {
                variant: AkskVariant::Otc,
                access_key: AK.into(),
                date_scope: Some("20240102".into()),
                signed_headers: signed,
                signature: signature(SK, &i, AkskVariant::Otc),
            })
        );
        for bad in [
            "",
            "SDK-HMAC-SHA256",
            "SDK-HMAC-SM3 Access=a, SignedHeaders=host, Signature=s",
            "SDK-HMAC-SHA256 Access=a, SignedHeaders=host",
            "SDK-HMAC-SHA256 Access=, SignedHeaders=host, Signature=s",
            "SDK-HMAC-SHA256 Access=a, SignedHeaders=host;;x, Signature=s",
            "SDK-HMAC-SHA256 Access=a, Credential=a/20240102///sdk_request, SignedHeaders=host, Signature=s",
            "SDK-HMAC-SHA256 Credential=a/20240102/eu-de/dcs/sdk_request, SignedHeaders=host, Signature=s",
            "SDK-HMAC-SHA256 Credential=a/20240102///other, SignedHeaders=host, Signature=s",
            "SDK-HMAC-SHA256 Access=a, SignedHeaders=host, Signature=s, Signature=t",
        ] {
            assert_eq!(parse_authorization(bad), None, "{bad:?}");
        }
    }
}
