use super::*;
use alloc::string::ToString;
use alloc::vec;
use serde_json::{Value, json};

const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/vectors/sigstore/conformance"
);

fn vector(case: &str) -> Vec<u8> {
    std::fs::read(alloc::format!("{VECTORS}/{case}/bundle.sigstore.json")).expect("a vector")
}

const SIG: &str = "MEQCIFOpaXKWvvBDwThDjTHX7tFF8liRoSxLZIsSeoUM/6D4AiBxV9/RnTMMw1t6nniX0rCuwrf8Vh+feLFu99m4ir+3yA==";
const HASH: &str = "dauhleYK4YyAdxwwDtR0l0KnSOWZdG2bwqHftlanvcI=";

/// A small v0.3 bundle with a key hint, one entry with a promise and a proof, one timestamp.
fn minimal() -> Value {
    json!({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {
            "publicKey": {"hint": "a hint"},
            "tlogEntries": [{
                "logIndex": "5",
                "logId": {"keyId": HASH},
                "kindVersion": {"kind": "hashedrekord", "version": "0.0.1"},
                "integratedTime": "1689177396",
                "inclusionPromise": {"signedEntryTimestamp": SIG},
                "inclusionProof": {
                    "logIndex": "4",
                    "rootHash": HASH,
                    "treeSize": "6",
                    "hashes": [HASH, HASH],
                    "checkpoint": {"envelope": "origin\n6\nroot\n\n"}
                },
                "canonicalizedBody": "e30="
            }],
            "timestampVerificationData": {"rfc3161Timestamps": [{"signedTimestamp": "MAMCAQA="}]}
        },
        "messageSignature": {
            "messageDigest": {"algorithm": "SHA2_256", "digest": HASH},
            "signature": SIG
        }
    })
}

fn parse(value: &Value) -> Result<Bundle, BundleError> {
    Bundle::parse(&serde_json::to_vec(value).expect("JSON"))
}

fn entry(value: &mut Value) -> &mut Value {
    &mut value["verificationMaterial"]["tlogEntries"][0]
}

#[test]
fn a_v0_1_bundle_reads_into_its_parts() {
    let bundle = Bundle::parse(&vector("happy-path-v0.1")).expect("parses");
    assert_eq!(bundle.version, Version::V0_1);
    let Content::MessageSignature(message) = &bundle.content else {
        panic!("a message signature")
    };
    let digest = message.digest.as_ref().expect("a digest");
    assert_eq!(digest.algorithm, "SHA2_256");
    assert_eq!(digest.digest.len(), 32);
    let Material::Certificate { leaf, chain } = &bundle.material else {
        panic!("a certificate")
    };
    assert_eq!(leaf.first(), Some(&0x30));
    assert!(chain.is_empty());
    let [entry] = bundle.tlog_entries.as_slice() else {
        panic!("one entry")
    };
    assert_eq!(entry.log_index, 27_246_492);
    assert_eq!(entry.integrated_time, Some(UnixTime(1_689_177_396)));
    assert_eq!(
        (entry.kind.as_str(), entry.kind_version.as_str()),
        ("hashedrekord", "0.0.1")
    );
    let proof = entry.inclusion_proof.as_ref().expect("a proof");
    assert_eq!((proof.log_index, proof.tree_size), (23_083_061, 23_083_062));
    assert_eq!(proof.hashes.len(), 10);
    assert!(
        proof
            .checkpoint
            .as_deref()
            .is_some_and(|c| c.starts_with("rekor.sigstore.dev - "))
    );
    assert!(bundle.rfc3161_timestamps.is_empty());
}

#[test]
fn a_minimal_bundle_reads() {
    let bundle = parse(&minimal()).expect("parses");
    assert_eq!(bundle.version, Version::V0_3);
    assert_eq!(
        bundle.material,
        Material::PublicKey {
            hint: "a hint".into()
        }
    );
    assert_eq!(bundle.leaf_certificate(), None);
    assert_eq!(bundle.rfc3161_timestamps, [vec![0x30, 3, 2, 1, 0]]);
    assert_eq!(bundle.tlog_entries[0].body, b"{}");
}

#[test]
fn the_four_media_types_are_read_and_no_other() {
    for (media_type, version) in [
        (
            "application/vnd.dev.sigstore.bundle+json;version=0.1",
            Version::V0_1,
        ),
        (
            "application/vnd.dev.sigstore.bundle+json;version=0.2",
            Version::V0_2,
        ),
        (
            "application/vnd.dev.sigstore.bundle+json;version=0.3",
            Version::V0_3,
        ),
        (
            "application/vnd.dev.sigstore.bundle.v0.3+json",
            Version::V0_3,
        ),
    ] {
        assert_eq!(
            Version::from_media_type(media_type),
            Some(version),
            "{media_type}"
        );
    }
    for media_type in [
        "application/vnd.dev.sigstore.bundle+json;version=0.4",
        "application/vnd.dev.sigstore.bundle.v0.2+json",
        "application/vnd.dev.sigstore.bundle+json; version=0.1",
        "application/vnd.dev.sigstore.bundle+json",
        "",
    ] {
        let mut bundle = minimal();
        bundle["mediaType"] = json!(media_type);
        assert_eq!(
            parse(&bundle),
            Err(BundleError::UnknownMediaType(media_type.into())),
            "{media_type}"
        );
    }
}

#[test]
fn exactly_one_content_is_required() {
    let mut both = minimal();
    both["dsseEnvelope"] =
        json!({"payload": "e30=", "payloadType": "t", "signatures": [{"sig": SIG}]});
    assert_eq!(parse(&both), Err(BundleError::Content));
    let mut neither = minimal();
    neither
        .as_object_mut()
        .expect("object")
        .remove("messageSignature");
    assert_eq!(parse(&neither), Err(BundleError::Content));
}

#[test]
fn an_envelope_needs_exactly_one_signature() {
    let mut bundle = minimal();
    bundle
        .as_object_mut()
        .expect("object")
        .remove("messageSignature");
    for (signatures, count) in [(json!([]), 0), (json!([{"sig": SIG}, {"sig": SIG}]), 2)] {
        bundle["dsseEnvelope"] =
            json!({"payload": "e30=", "payloadType": "t", "signatures": signatures});
        assert_eq!(parse(&bundle), Err(BundleError::EnvelopeSignatures(count)));
    }
    bundle["dsseEnvelope"] =
        json!({"payload": "e30=", "payloadType": "t", "signatures": [{"sig": SIG, "keyid": "k"}]});
    let Ok(Bundle {
        content: Content::Dsse(envelope),
        ..
    }) = parse(&bundle)
    else {
        panic!("an envelope")
    };
    assert_eq!(
        (envelope.payload.as_slice(), envelope.keyid.as_str()),
        (&b"{}"[..], "k")
    );
}

#[test]
fn the_certificate_form_must_be_the_versions() {
    let cert = json!({"rawBytes": "MAMCAQA="});
    let mut v3_chain = minimal();
    v3_chain["verificationMaterial"]["publicKey"] = Value::Null;
    v3_chain["verificationMaterial"]
        .as_object_mut()
        .expect("object")
        .remove("publicKey");
    v3_chain["verificationMaterial"]["x509CertificateChain"] = json!({"certificates": [cert]});
    assert_eq!(parse(&v3_chain), Err(BundleError::Material));

    let mut v1_certificate = v3_chain.clone();
    v1_certificate["mediaType"] = json!("application/vnd.dev.sigstore.bundle+json;version=0.1");
    let material = v1_certificate["verificationMaterial"]
        .as_object_mut()
        .expect("object");
    material.remove("x509CertificateChain");
    material.insert("certificate".into(), cert.clone());
    assert_eq!(parse(&v1_certificate), Err(BundleError::Material));

    let mut v1_chain = v3_chain.clone();
    v1_chain["mediaType"] = json!("application/vnd.dev.sigstore.bundle+json;version=0.1");
    v1_chain["verificationMaterial"]["x509CertificateChain"] =
        json!({"certificates": [cert, {"rawBytes": "MAA="}]});
    let bundle = parse(&v1_chain).expect("a v0.1 chain");
    assert_eq!(
        bundle.material,
        Material::Certificate {
            leaf: vec![0x30, 3, 2, 1, 0],
            chain: vec![vec![0x30, 0]]
        }
    );

    let mut both = minimal();
    both["verificationMaterial"]["certificate"] = cert;
    assert_eq!(parse(&both), Err(BundleError::Material));
    let mut none = minimal();
    none["verificationMaterial"]
        .as_object_mut()
        .expect("object")
        .remove("publicKey");
    assert_eq!(parse(&none), Err(BundleError::Material));
}

#[test]
fn an_empty_or_overlong_chain_is_refused() {
    let mut bundle = minimal();
    bundle["mediaType"] = json!("application/vnd.dev.sigstore.bundle+json;version=0.2");
    let material = bundle["verificationMaterial"]
        .as_object_mut()
        .expect("object");
    material.remove("publicKey");
    material.insert("x509CertificateChain".into(), json!({"certificates": []}));
    assert_eq!(parse(&bundle), Err(BundleError::EmptyChain));
    let certs = vec![json!({"rawBytes": "MAA="}); MAX_BUNDLE_CHAIN + 1];
    bundle["verificationMaterial"]["x509CertificateChain"] = json!({"certificates": certs});
    assert!(matches!(
        parse(&bundle),
        Err(BundleError::TooMany {
            what: "certificates",
            ..
        })
    ));
}

#[test]
fn each_version_requires_its_inclusion_evidence() {
    let mut v1 = minimal();
    v1["mediaType"] = json!("application/vnd.dev.sigstore.bundle+json;version=0.1");
    entry(&mut v1)
        .as_object_mut()
        .expect("object")
        .remove("inclusionProof");
    assert!(parse(&v1).is_ok(), "a promise is enough for v0.1");
    entry(&mut v1)
        .as_object_mut()
        .expect("object")
        .remove("inclusionPromise");
    assert_eq!(
        parse(&v1),
        Err(BundleError::MissingInclusion {
            entry: 0,
            version: Version::V0_1
        })
    );

    let mut v2 = minimal();
    v2["mediaType"] = json!("application/vnd.dev.sigstore.bundle+json;version=0.2");
    entry(&mut v2)
        .as_object_mut()
        .expect("object")
        .remove("inclusionPromise");
    assert!(parse(&v2).is_ok(), "a proof is enough for v0.2");
    let mut v2 = minimal();
    v2["mediaType"] = json!("application/vnd.dev.sigstore.bundle+json;version=0.2");
    entry(&mut v2)
        .as_object_mut()
        .expect("object")
        .remove("inclusionProof");
    assert_eq!(
        parse(&v2),
        Err(BundleError::MissingInclusion {
            entry: 0,
            version: Version::V0_2
        })
    );
}

#[test]
fn negative_integers_are_refused_and_zero_time_is_none() {
    for (field, path) in [
        ("logIndex", &["logIndex"][..]),
        ("integratedTime", &["integratedTime"][..]),
        (
            "inclusionProof.logIndex",
            &["inclusionProof", "logIndex"][..],
        ),
        (
            "inclusionProof.treeSize",
            &["inclusionProof", "treeSize"][..],
        ),
    ] {
        let mut bundle = minimal();
        let mut target = entry(&mut bundle);
        for key in path {
            target = &mut target[*key];
        }
        *target = json!("-1");
        assert_eq!(parse(&bundle), Err(BundleError::Negative(field)), "{field}");
    }
    let mut bundle = minimal();
    entry(&mut bundle)["integratedTime"] = json!("0");
    assert_eq!(
        parse(&bundle).expect("parses").tlog_entries[0].integrated_time,
        None
    );
    entry(&mut bundle)
        .as_object_mut()
        .expect("object")
        .remove("integratedTime");
    assert_eq!(
        parse(&bundle).expect("parses").tlog_entries[0].integrated_time,
        None
    );
}

#[test]
fn hashes_must_be_sha256_sized() {
    let mut bundle = minimal();
    entry(&mut bundle)["inclusionProof"]["rootHash"] = json!("AAAA");
    assert_eq!(
        parse(&bundle),
        Err(BundleError::HashLength("inclusionProof.rootHash"))
    );
    let mut bundle = minimal();
    entry(&mut bundle)["inclusionProof"]["hashes"] = json!([HASH, "AAAA"]);
    assert_eq!(
        parse(&bundle),
        Err(BundleError::HashLength("inclusionProof.hashes[]"))
    );
}

#[test]
fn base64_is_read_as_go_protojson_reads_it() {
    for (signature, expected) in [
        ("MEQC", Some(vec![0x30, 0x44, 0x02])),
        ("ME\nQC\r\n", Some(vec![0x30, 0x44, 0x02])),
        ("MA", Some(vec![0x30])),
        ("-_8", Some(vec![0xfb, 0xff])),
        ("-_8=", Some(vec![0xfb, 0xff])),
        ("+/8=", Some(vec![0xfb, 0xff])),
        ("", None),
        ("M", None),
        ("ME!C", None),
        ("+_8=", None),
    ] {
        let mut bundle = minimal();
        bundle["messageSignature"]["signature"] = json!(signature);
        let read = parse(&bundle).map(|bundle| match bundle.content {
            Content::MessageSignature(message) => message.signature,
            Content::Dsse(_) => Vec::new(),
        });
        match expected {
            Some(bytes) => assert_eq!(read, Ok(bytes), "{signature:?}"),
            None => assert_eq!(
                read,
                Err(BundleError::Base64("messageSignature.signature")),
                "{signature:?}"
            ),
        }
    }
}

#[test]
fn arrays_where_objects_belong_are_refused() {
    let mut bundle = minimal();
    entry(&mut bundle)["logId"] = json!([HASH]);
    assert!(matches!(parse(&bundle), Err(BundleError::Json(_))));
    let mut bundle = minimal();
    bundle["verificationMaterial"] = json!([]);
    assert!(matches!(parse(&bundle), Err(BundleError::Json(_))));
    assert!(matches!(Bundle::parse(b"[]"), Err(BundleError::Json(_))));
}

#[test]
fn bounds_are_applied() {
    let mut bundle = minimal();
    let entries = vec![entry(&mut bundle).clone(); MAX_TLOG_ENTRIES + 1];
    bundle["verificationMaterial"]["tlogEntries"] = json!(entries);
    assert!(matches!(
        parse(&bundle),
        Err(BundleError::TooMany {
            what: "log entries",
            ..
        })
    ));

    let mut bundle = minimal();
    entry(&mut bundle)["inclusionProof"]["hashes"] =
        json!(vec![HASH; MAX_INCLUSION_PROOF_HASHES + 1]);
    assert!(matches!(
        parse(&bundle),
        Err(BundleError::TooMany {
            what: "proof hashes",
            ..
        })
    ));

    let mut bundle = minimal();
    let stamps = vec![json!({"signedTimestamp": "MAA="}); MAX_RFC3161_TIMESTAMPS + 1];
    bundle["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"] =
        json!(stamps);
    assert!(matches!(
        parse(&bundle),
        Err(BundleError::TooMany {
            what: "RFC 3161 timestamps",
            ..
        })
    ));

    let large = vec![b' '; MAX_BUNDLE_BYTES + 1];
    assert_eq!(
        Bundle::parse(&large),
        Err(BundleError::TooLarge {
            bytes: MAX_BUNDLE_BYTES + 1,
            limit: MAX_BUNDLE_BYTES
        })
    );
}

#[test]
fn errors_say_what_is_wrong() {
    assert_eq!(
        BundleError::Negative("logIndex").to_string(),
        "logIndex is negative"
    );
    assert_eq!(
        BundleError::MissingInclusion {
            entry: 0,
            version: Version::V0_2
        }
        .to_string(),
        "log entry 0 has no inclusion proof, which a v0.2 bundle needs"
    );
}

fn a_txt_digest() -> [u8; 32] {
    use sha2::{Digest as _, Sha256};
    let artifact = std::fs::read(alloc::format!("{VECTORS}/a.txt")).expect("a.txt");
    Sha256::digest(&artifact).into()
}

/// The leaf certificate's SubjectPublicKeyInfo, DER.
fn leaf_spki(bundle: &Bundle) -> Vec<u8> {
    use der::{Decode as _, Encode as _};
    let leaf = bundle.leaf_certificate().expect("a certificate");
    let cert = x509_cert::Certificate::from_der(leaf).expect("a certificate");
    cert.tbs_certificate
        .subject_public_key_info
        .to_der()
        .expect("DER")
}

#[test]
fn a_message_signature_verifies_over_the_artifact_digest() {
    let bundle = Bundle::parse(&vector("happy-path-v0.3")).expect("parses");
    assert_eq!(
        against_a_txt_and_another(&bundle),
        [Ok(()), Err(ContentError::DigestMismatch)]
    );
}

/// The content check with the bundle's leaf key, for `a.txt` and for a digest one bit off.
fn against_a_txt_and_another(bundle: &Bundle) -> [Result<(), ContentError>; 2] {
    let spki = leaf_spki(bundle);
    let mut other = a_txt_digest();
    other[0] ^= 1;
    [a_txt_digest(), other].map(|digest| check_content_with_key(bundle, &digest, &spki))
}

#[test]
fn without_a_message_digest_the_signature_alone_decides() {
    let mut bundle = Bundle::parse(&vector("happy-path-v0.3")).expect("parses");
    if let Content::MessageSignature(message) = &mut bundle.content {
        message.digest = None;
    }
    assert_eq!(
        against_a_txt_and_another(&bundle),
        [Ok(()), Err(ContentError::Signature)]
    );
}

#[test]
fn an_ed25519_key_cannot_check_a_message_signature() {
    let bundle = Bundle::parse(&vector("happy-path-v0.3")).expect("parses");
    let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]).verifying_key();
    assert_eq!(
        check_content(&bundle, &a_txt_digest(), &Verifier::Ed25519(key)),
        Err(ContentError::Ed25519MessageSignature)
    );
}

#[test]
fn an_unusable_key_is_refused() {
    let bundle = Bundle::parse(&vector("happy-path-v0.3")).expect("parses");
    assert!(matches!(
        check_content_with_key(&bundle, &a_txt_digest(), b"not DER"),
        Err(ContentError::Key(_))
    ));
}

#[test]
fn an_in_toto_envelope_must_name_the_artifact_and_be_in_toto() {
    let mut bundle = Bundle::parse(&vector("happy-path-intoto-in-dsse-v3")).expect("parses");
    let spki = leaf_spki(&bundle);
    assert_eq!(
        check_content_with_key(&bundle, &a_txt_digest(), &spki),
        Ok(())
    );
    assert_eq!(
        check_content_with_key(&bundle, &[0; 32], &spki),
        Err(ContentError::Statement(dsse::StatementError::NoSubject))
    );
    if let Content::Dsse(envelope) = &mut bundle.content {
        envelope.payload_type = "application/json".into();
    }
    assert_eq!(
        check_content_with_key(&bundle, &a_txt_digest(), &spki),
        Err(ContentError::PayloadType("application/json".into()))
    );
}

#[test]
fn an_envelope_signature_over_another_payload_is_refused() {
    let mut bundle = Bundle::parse(&vector("happy-path-intoto-in-dsse-v3")).expect("parses");
    let spki = leaf_spki(&bundle);
    if let Content::Dsse(envelope) = &mut bundle.content {
        envelope.payload.push(b' ');
    }
    assert_eq!(
        check_content_with_key(&bundle, &a_txt_digest(), &spki),
        Err(ContentError::Signature)
    );
}
