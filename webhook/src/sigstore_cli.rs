//! `portieris sigstore verify-bundle`: the core's bundle verification on files, with the
//! arguments of Sigstore's client conformance protocol (`sigstore-conformance`
//! `docs/cli_protocol.md`), so its cases can be driven through it.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use portieris_core::sigstore::identity::{IdentityPolicy, Matcher};
use portieris_core::sigstore::{Expect, PUBLIC_GOOD_ROOT, TrustedRoot, bundle::Bundle, verify};
use sha2::{Digest as _, Sha256};

use crate::cli::VerifyBundleArgs;

const EXIT_REFUSED: u8 = 1;
const EXIT_UNREADABLE: u8 = 2;

/// Verifies the bundle; prints what it proves, or why not.
pub fn verify_bundle(args: &VerifyBundleArgs) -> ExitCode {
    match run(args) {
        Ok(message) => {
            println!("{message}");
            ExitCode::SUCCESS
        }
        Err((code, message)) => {
            eprintln!("portieris sigstore verify-bundle: {message}");
            ExitCode::from(code)
        }
    }
}

type Failure = (u8, String);

fn run(args: &VerifyBundleArgs) -> Result<String, Failure> {
    let unreadable =
        |what: &str, e: &dyn std::fmt::Display| (EXIT_UNREADABLE, format!("{what}: {e}"));
    let root = match (&args.trusted_root, args.staging) {
        (Some(path), _) => read(path)?,
        (None, true) => {
            return Err((
                EXIT_UNREADABLE,
                "--staging needs --trusted-root (portieris ships only the public-good root)".into(),
            ));
        }
        (None, false) => PUBLIC_GOOD_ROOT.to_vec(),
    };
    let root = TrustedRoot::parse(&root).map_err(|e| unreadable("the trusted root", &e))?;
    let artifact = artifact_sha256(&args.file_or_digest)?;
    // A bundle that does not parse is a refusal: the conformance suite's malformed cases.
    let bundle = Bundle::parse(&read(&args.bundle)?)
        .map_err(|e| (EXIT_REFUSED, format!("the bundle: {e}")))?;
    let key;
    let identities;
    let expect = match (
        &args.key,
        &args.certificate_identity,
        &args.certificate_oidc_issuer,
    ) {
        (Some(path), _, _) => {
            key = String::from_utf8(read(path)?).map_err(|e| unreadable("the key", &e))?;
            Expect::Key(&key)
        }
        (None, Some(subject), Some(issuer)) => {
            identities =
                [exact_identity(issuer, subject).map_err(|e| unreadable("the identity", &e))?];
            Expect::Keyless(&identities)
        }
        _ => {
            return Err((
                EXIT_UNREADABLE,
                "give --key, or --certificate-identity and --certificate-oidc-issuer".into(),
            ));
        }
    };
    let now = crate::clock::now();
    let verified = verify(&bundle, &artifact, expect, Some(&root), now)
        .map_err(|e| (EXIT_REFUSED, e.to_string()))?;
    let who = verified.identity.map_or_else(
        || "the key".to_string(),
        |id| format!("{} (issuer {})", id.subject, id.issuer.unwrap_or_default()),
    );
    Ok(format!("verified: signed by {who}"))
}

fn exact_identity(issuer: &str, subject: &str) -> Result<IdentityPolicy, impl std::fmt::Display> {
    IdentityPolicy::new(
        Matcher::exact(issuer)?,
        Matcher::exact(subject)?,
        BTreeMap::new(),
    )
}

/// `sha256:<64 hex>` is a digest; anything else is a file to hash.
fn artifact_sha256(file_or_digest: &str) -> Result<[u8; 32], Failure> {
    if let Some(digest) = file_or_digest
        .strip_prefix("sha256:")
        .and_then(|hex| portieris_core::Digest::parse(&format!("sha256:{hex}")).ok())
    {
        let bytes: Option<Vec<u8>> = (0..32)
            .map(|i| u8::from_str_radix(&digest.hex()[2 * i..2 * i + 2], 16).ok())
            .collect();
        if let Some(Ok(bytes)) = bytes.map(<[u8; 32]>::try_from) {
            return Ok(bytes);
        }
    }
    Ok(Sha256::digest(read(Path::new(file_or_digest))?).into())
}

fn read(path: &Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| (EXIT_UNREADABLE, format!("{}: {e}", path.display())))
}
