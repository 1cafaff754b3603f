//! Attestations end to end: images pushed to the rig's registries, attested by the real
//! cosign v3 (`cosign attest`, keyless or with a key, into bundles among the referrers or the
//! legacy `.att` tag) against the loopback Sigstore, with SLSA provenance written as a CI
//! builder writes it, an SBOM made by the real syft and a vulnerability report; judged by
//! `portieris review` under `attestations` policies with CEL conditions. The tests fail, never
//! skip, without the rig, the loopback Sigstore or syft (`scripts/test.sh` provides them).

#[allow(dead_code)] // shared with other test files
#[path = "common/review.rs"]
mod review;
#[allow(dead_code)] // shared with other test files
#[path = "common/rig.rs"]
mod rig;
#[allow(dead_code)] // shared with other test files
#[path = "common/sigstore.rs"]
mod sigstore;
#[allow(dead_code)] // shared with other test files
#[path = "common/simple.rs"]
mod tools;

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use review::{Folder, Reviewed, image_policy, secret};
use serde_json::{Value, json};
use sigstore::{Cosign, OUR_CI, Registry, SIGNER, Signer, by_digest};

fn world() -> &'static Cosign {
    static WORLD: OnceLock<Cosign> = OnceLock::new();
    WORLD.get_or_init(|| Cosign::new(format!("attestations/run-{}", std::process::id())))
}

/// A cosign vulnerability report (`--type vuln`), as a scanner step writes it: trivy's JSON
/// result (`Results[].Vulnerabilities[]`) under cosign's `scanner.result`.
fn vulnerability_report(severities: &[&str]) -> Vec<u8> {
    let results: Vec<Value> = severities
        .iter()
        .enumerate()
        .map(|(n, severity)| {
            json!({"VulnerabilityID": format!("CVE-2026-{:04}", 1000 + n), "Severity": severity,
            "PkgName": "openssl", "InstalledVersion": "3.0.1", "FixedVersion": "3.0.9"})
        })
        .collect();
    serde_json::to_vec(&json!({
        "invocation": {"parameters": null, "uri": "https://github.com/portieris-test/app/actions/runs/42",
                       "event_id": "42", "builder.id": OUR_CI},
        "scanner": {"uri": "pkg:github/aquasecurity/trivy@0.58.0", "version": "0.58.0",
                    "db": {"uri": "", "version": ""}, "result": {"Results": [{"Vulnerabilities": results}]}},
        "metadata": {"scanStartedOn": "2026-12-06T09:05:00Z", "scanFinishedOn": "2026-12-06T09:06:00Z"}
    }))
    .expect("JSON")
}

/// An `attestations` entry.
fn attestation(kind: &str, signer: Value, conditions: &[&str]) -> Value {
    json!({"predicateType": kind, "signer": signer, "conditions": conditions})
}

fn built_by_our_ci(world: &Cosign) -> Value {
    world.built_by_our_ci()
}

/// `portieris review` of a Pod running `image` under `attestations` for the whole registry,
/// with the loopback root and the release key as Secrets.
fn review(world: &Cosign, image: &str, attestations: Value) -> Reviewed {
    let host = image.split('/').next().expect("a registry");
    let rule = json!([{"name": format!("{host}/*"), "policy": {"attestations": attestations}}]);
    let folder = Folder::new(&[
        image_policy(rule),
        secret(
            "sigstore-root",
            json!({"trusted_root.json": world.sigstore.trusted_root()}),
        ),
        secret("release-key", json!({"cosign.pub": world.public_key()})),
    ]);
    review::review(folder.path(), &world.rig.ca(), image, None, &[])
}

#[test]
fn provenance_built_by_our_ci_is_admitted_and_pinned_and_another_builder_is_denied_by_name() {
    let world = world();
    let (ours, ours_digest) = world.push(Registry::Referrers, "built-by-us");
    world.attest_provenance(&ours, &ours_digest, OUR_CI, Signer::Keyless(SIGNER));
    let reviewed = review(world, &ours, json!([built_by_our_ci(world)]));
    reviewed.assert_allowed("provenance from our CI");
    assert_eq!(reviewed.pinned(), Some(by_digest(&ours, &ours_digest)));

    let elsewhere = "https://ci.example.com/builders/other@v1";
    let (theirs, theirs_digest) = world.push(Registry::Referrers, "built-elsewhere");
    world.attest_provenance(&theirs, &theirs_digest, elsewhere, Signer::Keyless(SIGNER));
    let denied = review(world, &theirs, json!([built_by_our_ci(world)]));
    denied.assert_denied(
        "another builder",
        "condition 1 is false: predicate.runDetails.builder.id",
    );
}

#[test]
fn provenance_through_the_tag_fallback_and_signed_by_a_key_is_read_the_same() {
    let world = world();
    let (image, digest) = world.push(Registry::Fallback, "keyed-provenance");
    world.attest_provenance(&image, &digest, OUR_CI, Signer::Key);
    let keyed = |conditions: &[&str]| {
        json!([attestation(
            "slsaprovenance1",
            json!({"keySecret": "release-key"}),
            conditions
        )])
    };
    let ours = format!("predicate.runDetails.builder.id == '{OUR_CI}'");
    review(world, &image, keyed(&[&ours])).assert_allowed("a key-signed bundle");
    // The same statement judged for the keyless identity: not its signer.
    review(world, &image, json!([built_by_our_ci(world)])).assert_denied(
        "signed by a key, not the identity",
        "no attestation signed by a keyless identity",
    );
}

#[test]
fn a_missing_predicate_type_a_wrong_identity_and_an_erroring_condition_are_denied_saying_why() {
    let world = world();
    let (image, digest) = world.push(Registry::Referrers, "denials");
    world.attest_provenance(&image, &digest, OUR_CI, Signer::Keyless(SIGNER));
    let sbom = attestation("spdxjson", world.keyless(SIGNER), &[]);
    review(world, &image, json!([sbom])).assert_denied(
        "no SBOM",
        "no attestation of type \"https://spdx.dev/Document\"",
    );
    let stranger = attestation(
        "slsaprovenance1",
        world.keyless("mallory@portieris.test"),
        &[],
    );
    review(world, &image, json!([stranger]))
        .assert_denied("another identity", "matches no allowed identity");
    let errs = attestation(
        "slsaprovenance1",
        world.keyless(SIGNER),
        &["predicate.noSuchField == 'x'"],
    );
    review(world, &image, json!([errs]))
        .assert_denied("a condition that errors", "condition 1 failed (");
}

#[test]
fn a_legacy_att_for_another_digest_is_refused_for_its_subject() {
    let world = world();
    let (image, digest) = world.push(Registry::Referrers, "subject-a");
    let (other, other_digest) = world.push(Registry::Referrers, "subject-b");
    world.attest_provenance(&other, &other_digest, OUR_CI, Signer::KeyLegacy);
    // Copy b's `.att` to the tag of a's digest: a's attestation tag now holds b's statement.
    let tag = |image: &str, digest: &str| {
        format!(
            "{}:sha256-{}.att",
            image.rsplit_once(':').expect("a tag").0,
            digest.trim_start_matches("sha256:")
        )
    };
    let ca = world.rig.ca();
    tools::run(
        Command::new("skopeo")
            .args([
                "copy",
                "--src-tls-verify=false",
                "--dest-tls-verify=false",
                "--preserve-digests",
            ])
            .arg(format!("docker://{}", tag(&other, &other_digest)))
            .arg(format!("docker://{}", tag(&image, &digest)))
            .env("SSL_CERT_FILE", ca),
        None,
    );
    let keyed = json!([attestation(
        "slsaprovenance1",
        json!({"keySecret": "release-key"}),
        &[]
    )]);
    review(world, &other, keyed.clone()).assert_allowed("b's own .att");
    review(world, &image, keyed).assert_denied(
        "b's statement under a's tag",
        "no subject of the statement has the artifact's digest",
    );
}

#[test]
fn a_vulnerability_report_in_the_legacy_att_tag_is_held_to_its_severity_rule() {
    let world = world();
    let (image, digest) = world.push(Registry::Referrers, "scanned");
    let report = world.file(
        "vuln.json",
        &vulnerability_report(&["LOW", "HIGH", "MEDIUM"]),
    );
    world.attest(&image, &digest, "vuln", &report, Signer::KeyLegacy);
    let rule = |banned: &str| {
        let condition = format!(
            "predicate.scanner.result.Results.all(r, r.Vulnerabilities.all(v, !(v.Severity in {banned})))"
        );
        json!([attestation(
            "vuln",
            json!({"keySecret": "release-key"}),
            &[&condition]
        )])
    };
    review(world, &image, rule("['CRITICAL']")).assert_allowed("no critical vulnerability");
    review(world, &image, rule("['CRITICAL', 'HIGH']"))
        .assert_denied("a HIGH vulnerability", "condition 1 is false");
}

#[test]
fn an_sbom_made_by_syft_is_checked_for_banned_packages() {
    let world = world();
    let (image, digest) = world.push_alpine(Registry::Referrers, "inventoried");
    let sbom = syft_sbom(world, &image);
    let packages: Value = serde_json::from_slice(&sbom).expect("syft writes JSON");
    let names: Vec<&str> = packages["packages"]
        .as_array()
        .expect("an SPDX document lists packages")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert!(
        !names.is_empty(),
        "syft found no package in the image: {names:?}"
    );
    let predicate = world.file("sbom.spdx.json", &sbom);
    world.attest(&image, &digest, "spdxjson", &predicate, Signer::Key);
    let banning = |name: &str| {
        let condition = format!("!predicate.packages.exists(p, p.name == '{name}')");
        json!([attestation(
            "spdxjson",
            json!({"keySecret": "release-key"}),
            &[&condition]
        )])
    };
    review(world, &image, banning("log4j")).assert_allowed("no banned package");
    review(world, &image, banning(names[0]))
        .assert_denied("a banned package", "condition 1 is false");
}

/// `syft scan registry:<image> -o spdx-json` of the pushed image, over TLS with the rig's CA;
/// syft is `$PORTIERIS_SYFT` (scripts/test.sh builds it), else `scripts/syft-bin.sh`'s.
fn syft_sbom(world: &Cosign, image: &str) -> Vec<u8> {
    let syft = std::env::var("PORTIERIS_SYFT").unwrap_or_else(|_| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/syft-bin.sh");
        tools::run(Command::new("bash").arg(script), None)
    });
    let out = Command::new(syft.trim())
        .args([
            "scan",
            &format!("registry:{image}"),
            "-o",
            "spdx-json",
            "-q",
        ])
        .env("SYFT_CHECK_FOR_APP_UPDATE", "false")
        .env("SSL_CERT_FILE", world.rig.ca())
        .output()
        .expect("syft runs");
    assert!(
        out.status.success(),
        "syft: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}
