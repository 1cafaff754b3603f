use alloc::format;
use alloc::vec;

use serde_json::{Value, json};

use super::*;

const BUNDLE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
const SBOM: &str = "application/spdx+json";

fn sha256(bytes: &[u8]) -> Digest {
    Digest::from_sha256(&Sha256::digest(bytes).into())
}

fn image() -> Digest {
    sha256(b"the image manifest")
}

/// A referrer manifest as cosign v3 writes one: empty config, `artifactType`, one layer.
fn referrer(artifact_type: Option<&str>, config: &str, subject: &Digest, blob: &[u8]) -> Vec<u8> {
    let mut manifest = json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": {"mediaType": config, "digest": format!("{}", sha256(b"{}")), "size": 2},
        "layers": [{"mediaType": BUNDLE, "digest": sha256(blob).to_string(), "size": blob.len()}],
        "subject": {"mediaType": MANIFEST_MEDIA_TYPE, "digest": subject.to_string(), "size": 500},
        "annotations": {"org.opencontainers.image.created": "2026-12-06T10:00:00Z"},
    });
    if let Some(t) = artifact_type {
        manifest["artifactType"] = json!(t);
    }
    serde_json::to_vec(&manifest).expect("JSON")
}

fn entry(body: &[u8], artifact_type: Option<&str>) -> Value {
    let mut e = json!({"mediaType": MANIFEST_MEDIA_TYPE, "digest": sha256(body).to_string(),
        "size": body.len()});
    if let Some(t) = artifact_type {
        e["artifactType"] = json!(t);
    }
    e
}

fn index(entries: Vec<Value>) -> Vec<u8> {
    serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": INDEX_MEDIA_TYPE,
        "manifests": entries}))
    .expect("JSON")
}

fn listed(body: &[u8], artifact_type: Option<&str>) -> Descriptor {
    let entries = parse_index(&index(vec![entry(body, artifact_type)])).expect("index");
    entries.into_iter().next().expect("one entry")
}

#[test]
fn an_index_lists_its_entries_with_type_and_annotations() {
    let one = referrer(Some(BUNDLE), EMPTY_CONFIG_MEDIA_TYPE, &image(), b"{}");
    let mut annotated = entry(b"sbom", Some(SBOM));
    annotated["annotations"] = json!({"a": "b"});
    let got = parse_index(&index(vec![entry(&one, Some(BUNDLE)), annotated])).expect("index");
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].digest, sha256(&one));
    assert_eq!(got[0].size, one.len() as u64);
    assert_eq!(got[0].artifact_type.as_deref(), Some(BUNDLE));
    assert_eq!(got[1].annotations.get("a").map(String::as_str), Some("b"));
    // The fallback index of a registry without the API: no mediaType, no manifests yet.
    assert_eq!(parse_index(br#"{"schemaVersion":2}"#), Ok(Vec::new()));
}

#[test]
fn documents_that_are_not_an_index_are_refused() {
    for (body, expect_malformed) in [
        (
            &br#"{"schemaVersion":2,"manifests":[{"digest":"x"}]}"#[..],
            true,
        ),
        (br#"[2,"x",[]]"#, true),
        (
            br#"{"schemaVersion":2,"manifests":[["m","sha256:x",1]]}"#,
            true,
        ),
        (b"<html>", true),
        (br#"{"schemaVersion":1}"#, false),
        (
            br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}"#,
            false,
        ),
    ] {
        let why = parse_index(body).expect_err("refused");
        assert_eq!(
            matches!(why, ReferrersError::Malformed(_)),
            expect_malformed,
            "{why}"
        );
    }
    let bad = index(vec![
        json!({"mediaType": MANIFEST_MEDIA_TYPE, "digest": "sha512:ab", "size": 1}),
    ]);
    assert!(matches!(
        parse_index(&bad),
        Err(ReferrersError::BadDigest { number: 1, .. })
    ));
}

#[test]
fn an_index_is_bounded_in_bytes_and_entries() {
    let many = index(
        (0..=MAX_REFERRER_INDEX_ENTRIES)
            .map(|n| entry(format!("{n}").as_bytes(), Some(SBOM)))
            .collect(),
    );
    let why = parse_index(&many).expect_err("too many");
    assert_eq!(
        why,
        ReferrersError::TooManyEntries {
            count: MAX_REFERRER_INDEX_ENTRIES + 1
        }
    );
    assert!(why.is_bound());
    let huge = vec![b' '; MAX_MANIFEST_BYTES + 1];
    assert!(matches!(
        parse_index(&huge),
        Err(ReferrersError::TooLarge { .. })
    ));
}

#[test]
fn selection_keeps_the_type_asked_for_and_entries_of_unknown_type_once_each() {
    let bundle = referrer(Some(BUNDLE), EMPTY_CONFIG_MEDIA_TYPE, &image(), b"{}");
    let entries = parse_index(&index(vec![
        entry(b"sbom", Some(SBOM)),
        entry(&bundle, Some(EMPTY_CONFIG_MEDIA_TYPE)),
        entry(&bundle, Some(BUNDLE)),
        entry(b"untyped", None),
        json!({"mediaType": INDEX_MEDIA_TYPE, "digest": sha256(b"i").to_string(), "size": 1,
            "artifactType": BUNDLE}),
    ]))
    .expect("index");
    let got = select(&entries, BUNDLE, 8).expect("selected");
    let mut expected = vec![
        (sha256(&bundle), Selected::Listed),
        (sha256(b"untyped"), Selected::Unsure),
    ];
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    let got: Vec<_> = got.into_iter().map(|(d, s)| (d.digest, s)).collect();
    assert_eq!(got, expected);
    let why = select(&entries, BUNDLE, 1).expect_err("bounded");
    assert_eq!(why, ReferrersError::TooMany { count: 2, max: 1 });
    assert!(why.is_bound());
    // For another type, only the entries of unknown type are candidates.
    let other = select(&entries, "application/other", 8).expect("selected");
    assert!(other.iter().all(|(_, s)| *s == Selected::Unsure));
    assert_eq!(other.len(), 2);
    let typed = parse_index(&index(vec![entry(b"sbom", Some(SBOM))])).expect("index");
    assert_eq!(select(&typed, BUNDLE, 0), Ok(Vec::new()));
}

#[test]
fn a_referrer_manifest_gives_its_type_and_layers() {
    let blob = br#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}"#;
    let body = referrer(Some(BUNDLE), EMPTY_CONFIG_MEDIA_TYPE, &image(), blob);
    let got = parse_referrer(
        &body,
        &listed(&body, Some(BUNDLE)),
        &image(),
        BUNDLE,
        8,
        1024,
    )
    .expect("valid")
    .expect("of the type");
    assert_eq!(got.digest, sha256(&body));
    assert_eq!(got.artifact_type, BUNDLE);
    assert_eq!(
        got.layers,
        vec![Layer {
            media_type: BUNDLE.into(),
            digest: sha256(blob),
            size: blob.len()
        }]
    );
    assert_eq!(got.annotations.len(), 1);
    // Without artifactType, the config's media type is the type.
    let old = referrer(None, SBOM, &image(), b"spdx");
    let got = parse_referrer(&old, &listed(&old, None), &image(), SBOM, 8, 1024);
    assert_eq!(
        got.map(|m| m.map(|m| m.artifact_type)),
        Ok(Some(SBOM.into()))
    );
}

#[test]
fn a_referrer_of_another_subject_or_without_one_is_refused() {
    let other = sha256(b"another image");
    let body = referrer(Some(BUNDLE), EMPTY_CONFIG_MEDIA_TYPE, &other, b"{}");
    let why = parse_referrer(&body, &listed(&body, Some(BUNDLE)), &image(), BUNDLE, 8, 64)
        .expect_err("other subject");
    assert_eq!(
        why,
        ReferrersError::Subject {
            expected: image(),
            found: Some(other.to_string())
        }
    );
    let mut value: Value = serde_json::from_slice(&body).expect("JSON");
    value.as_object_mut().expect("object").remove("subject");
    let bare = serde_json::to_vec(&value).expect("JSON");
    let why = parse_referrer(&bare, &listed(&bare, Some(BUNDLE)), &image(), BUNDLE, 8, 64)
        .expect_err("no subject");
    assert!(why.to_string().contains("no subject"), "{why}");
}

#[test]
fn a_referrer_must_be_the_bytes_and_size_the_index_listed() {
    let body = referrer(Some(BUNDLE), EMPTY_CONFIG_MEDIA_TYPE, &image(), b"{}");
    let other = referrer(Some(BUNDLE), EMPTY_CONFIG_MEDIA_TYPE, &image(), b"{ }");
    let why = parse_referrer(
        &other,
        &listed(&body, Some(BUNDLE)),
        &image(),
        BUNDLE,
        8,
        64,
    )
    .expect_err("other bytes");
    assert_eq!(
        why,
        ReferrersError::ManifestDigest {
            listed: sha256(&body),
            actual: sha256(&other)
        }
    );
    let mut wrong_size = listed(&body, Some(BUNDLE));
    wrong_size.size += 1;
    assert!(matches!(
        parse_referrer(&body, &wrong_size, &image(), BUNDLE, 8, 64),
        Err(ReferrersError::ManifestSize { .. })
    ));
}

#[test]
fn a_referrer_listed_as_one_type_and_of_another_is_refused_unless_the_index_was_unsure() {
    let sbom = referrer(Some(SBOM), EMPTY_CONFIG_MEDIA_TYPE, &image(), b"spdx");
    let why = parse_referrer(&sbom, &listed(&sbom, Some(BUNDLE)), &image(), BUNDLE, 8, 64)
        .expect_err("mislisted");
    assert!(matches!(why, ReferrersError::ArtifactType { .. }), "{why}");
    for unsure in [None, Some(EMPTY_CONFIG_MEDIA_TYPE)] {
        assert_eq!(
            parse_referrer(&sbom, &listed(&sbom, unsure), &image(), BUNDLE, 8, 64),
            Ok(None),
            "{unsure:?}"
        );
    }
}

#[test]
fn a_referrer_is_bounded_in_layers_and_blob_size() {
    let body = referrer(Some(BUNDLE), EMPTY_CONFIG_MEDIA_TYPE, &image(), &[b'x'; 65]);
    let entry = listed(&body, Some(BUNDLE));
    let why = parse_referrer(&body, &entry, &image(), BUNDLE, 8, 64).expect_err("too large");
    assert_eq!(
        why,
        ReferrersError::LayerTooLarge {
            layer: 1,
            size: 65,
            max: 64
        }
    );
    assert!(why.is_bound());
    let why = parse_referrer(&body, &entry, &image(), BUNDLE, 0, 64).expect_err("too many");
    assert_eq!(why, ReferrersError::TooManyLayers { count: 1, max: 0 });
}

#[test]
fn a_referrer_manifest_is_an_oci_image_manifest_object() {
    for text in [
        r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json"}"#,
        r#"{"schemaVersion":2,"layers":[["m","sha256:x",1]]}"#,
        r#"{"schemaVersion":2,"subject":["sha256:x"]}"#,
        r#"[2]"#,
    ] {
        let body = text.as_bytes();
        let why = parse_referrer(body, &listed(body, Some(BUNDLE)), &image(), BUNDLE, 8, 64)
            .expect_err("refused");
        assert!(
            matches!(
                why,
                ReferrersError::Malformed(_) | ReferrersError::MediaType { .. }
            ),
            "{text}: {why}"
        );
    }
    let untyped = format!(
        r#"{{"schemaVersion":2,"subject":{{"digest":"{}"}},"layers":[]}}"#,
        image()
    );
    let body = untyped.as_bytes();
    assert_eq!(
        parse_referrer(body, &listed(body, None), &image(), BUNDLE, 8, 64),
        Err(ReferrersError::NoArtifactType)
    );
}

#[test]
fn the_fallback_tag_is_the_subject_digest_with_a_dash() {
    let hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    let digest = Digest::parse(&format!("sha256:{hex}")).expect("digest");
    assert_eq!(fallback_tag(&digest), format!("sha256-{hex}"));
}
