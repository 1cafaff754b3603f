//! Trusted identities: `x509.subject: C=US, ST=WA, O=acme-rockets.io, CN=builder` read as
//! RFC 4514 distinguished names (as notation-go reads them with go-ldap), matched against the
//! signing certificate's subject: every attribute of the identity must be in the subject with
//! the same value (notation's `IsSubsetDN`).
//!
//! Hand-written: no no_std crate parses RFC 4514 strings.

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString as _};
use alloc::vec::Vec;

use der::asn1::ObjectIdentifier;
use der::{Tag, Tagged as _};
use x509_cert::name::Name;

/// The attributes notation requires in every identity (`S` is read as `ST`).
const MANDATORY: [&str; 3] = ["C", "ST", "O"];

/// The attribute types Go's `pkix.Name.String` prints by name, the only ones a subject is
/// compared on (notation refuses the others, printed as `OID=#hex`).
const NAMED: [(&str, &str); 9] = [
    ("2.5.4.3", "CN"),
    ("2.5.4.5", "SERIALNUMBER"),
    ("2.5.4.6", "C"),
    ("2.5.4.7", "L"),
    ("2.5.4.8", "ST"),
    ("2.5.4.9", "STREET"),
    ("2.5.4.10", "O"),
    ("2.5.4.11", "OU"),
    ("2.5.4.17", "POSTALCODE"),
];

/// A distinguished name as attribute type → value, each type at most once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistinguishedName(BTreeMap<String, String>);

impl DistinguishedName {
    /// Parses an identity's DN: `TYPE=value` pairs separated by `,` (or `;`), values with
    /// RFC 4514 escapes (`\,`, `\\`, `\2C`), spaces around them ignored unless escaped. No
    /// multi-valued RDNs (`+`), no `#hex` values, no repeated type, and `C`, `ST` and `O`
    /// present: notation's rules.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.contains("=#") {
            return Err("a value written as #hex is not supported".into());
        }
        let mut attributes = BTreeMap::new();
        for rdn in split_unescaped(text)? {
            let (kind, value) = attribute(&rdn)?;
            if attributes.insert(kind.clone(), value).is_some() {
                return Err(alloc::format!("the attribute {kind} appears twice"));
            }
        }
        for required in MANDATORY {
            if attributes.get(required).is_none_or(String::is_empty) {
                return Err(alloc::format!(
                    "it has no {required}: an identity needs C, ST (or S) and O at least"
                ));
            }
        }
        Ok(Self(attributes))
    }

    /// Whether every attribute of `self` is in `other` with the same value.
    pub fn is_subset_of(&self, other: &Self) -> bool {
        self.0
            .iter()
            .all(|(kind, value)| other.0.get(kind) == Some(value))
    }

    /// A certificate subject's named attributes. A type that appears twice is left out, so
    /// an identity that names it never matches (notation refuses such a subject).
    pub fn of_subject(subject: &Name) -> Self {
        let mut seen: BTreeMap<String, Option<String>> = BTreeMap::new();
        for attribute in subject.0.iter().flat_map(|rdn| rdn.0.iter()) {
            let Some(kind) = name_of(&attribute.oid) else {
                continue;
            };
            let value = text(&attribute.value);
            seen.entry(kind.into())
                .and_modify(|slot| *slot = None)
                .or_insert(value);
        }
        Self(
            seen.into_iter()
                .filter_map(|(kind, value)| Some((kind, value?)))
                .collect(),
        )
    }
}

fn name_of(oid: &ObjectIdentifier) -> Option<&'static str> {
    let dotted = oid.to_string();
    NAMED
        .iter()
        .find(|(number, _)| *number == dotted)
        .map(|(_, name)| *name)
}

/// The value of a string attribute; `None` for other ASN.1 types or invalid UTF-8.
fn text(value: &der::Any) -> Option<String> {
    let string = matches!(
        value.tag(),
        Tag::Utf8String | Tag::PrintableString | Tag::Ia5String | Tag::TeletexString
    );
    string
        .then(|| core::str::from_utf8(value.value()).ok())
        .flatten()
        .map(String::from)
}

/// `TYPE=value`, the type upper-cased (`S` is `ST`), the value unescaped.
fn attribute(rdn: &str) -> Result<(String, String), String> {
    let (kind, value) = rdn
        .split_once('=')
        .ok_or_else(|| alloc::format!("\"{}\" is not TYPE=value", rdn.trim()))?;
    let kind = kind.trim().to_ascii_uppercase();
    if kind.is_empty() || !kind.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.') {
        return Err(alloc::format!("\"{kind}\" is not an attribute type"));
    }
    let kind = if kind == "S" { "ST".into() } else { kind };
    Ok((kind, unescape(value)?))
}

/// Splits at `,` and `;` that are not escaped; refuses `+` (multi-valued RDNs).
fn split_unescaped(text: &str) -> Result<Vec<String>, String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                current.push(c);
                current.extend(chars.next());
            }
            ',' | ';' => parts.push(core::mem::take(&mut current)),
            '+' => return Err("multi-valued attributes (+) are not supported".into()),
            _ => current.push(c),
        }
    }
    parts.push(current);
    Ok(parts)
}

/// Resolves escapes and trims the spaces that are not escaped.
fn unescape(raw: &str) -> Result<String, String> {
    let raw = raw.trim_start();
    let mut bytes = Vec::new();
    // Bytes up to here are kept even if spaces: they were escaped.
    let mut kept = 0;
    let mut chars = raw.char_indices();
    while let Some((_, c)) = chars.next() {
        if c != '\\' {
            let mut buffer = [0; 4];
            bytes.extend_from_slice(c.encode_utf8(&mut buffer).as_bytes());
            continue;
        }
        let Some((_, next)) = chars.next() else {
            return Err("a value ends in a lone backslash".into());
        };
        if let Some(high) = next.to_digit(16) {
            let low = chars
                .next()
                .and_then(|(_, c)| c.to_digit(16))
                .ok_or("a \\ escape is neither a special character nor two hex digits")?;
            bytes.push((high * 16 + low) as u8);
        } else if ",+\"\\<>;= #".contains(next) {
            bytes.push(next as u8);
        } else {
            return Err(alloc::format!("\\{next} is not an escape"));
        }
        kept = bytes.len();
    }
    let end = bytes.iter().rposition(|b| *b != b' ').map_or(0, |i| i + 1);
    bytes.truncate(end.max(kept));
    String::from_utf8(bytes).map_err(|_| "a value is not UTF-8".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dn(text: &str) -> DistinguishedName {
        DistinguishedName::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn an_identity_is_read_with_its_escapes_and_spaces_trimmed() {
        let parsed = dn(r"C=US, S=WA,  O=acme\, inc. , CN=\ builder\20");
        let expect = |k: &str| parsed.0.get(k).cloned();
        assert_eq!(expect("ST").as_deref(), Some("WA"));
        assert_eq!(expect("O").as_deref(), Some("acme, inc."));
        assert_eq!(expect("CN").as_deref(), Some(" builder "));
    }

    #[test]
    fn an_identity_needs_c_st_and_o_once_each_and_no_multivalues() {
        for bad in [
            "C=US, O=acme",
            "C=US, ST=WA, O=acme, O=other",
            "C=US, ST=WA, O=acme+OU=x",
            "C=US, ST=WA, O=#0403",
            "C=US, ST=WA, O=acme\\",
            "C=US, ST=WA, O=acme, junk",
        ] {
            assert!(DistinguishedName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_subset_matches_and_a_different_value_does_not() {
        let subject = dn("C=US, ST=WA, L=Seattle, O=acme-rockets.io, CN=builder");
        assert!(dn("C=US, ST=WA, O=acme-rockets.io").is_subset_of(&subject));
        assert!(!dn("C=US, ST=WA, O=acme-rockets.io, OU=Finance").is_subset_of(&subject));
        assert!(!dn("C=US, ST=WA, O=acme-rockets.com").is_subset_of(&subject));
    }
}
