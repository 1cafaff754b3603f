//! Every size and count bound of the core, so that no input (an admission request, a policy,
//! trust data, a signature) can make a decision slow or large. Past a bound the input is
//! refused with an error naming the bound, never cut short. Frontends should apply the byte
//! bounds while downloading too.
//!
//! The modules that apply a bound re-export it under the name they have always used.

use core::ops::RangeInclusive;

// Image references and policies.

/// Longest image name (domain and path): the longest docker accepts.
pub const MAX_NAME_LEN: usize = 255;
/// Longest tag: the distribution grammar's `[\w][\w.-]{0,127}`.
pub const MAX_TAG_LEN: usize = 128;
/// Longest repository pattern: a name (255) with `:` and a tag (128), and some `*`s. Longer
/// text cannot name anything an image reference can be.
pub const MAX_PATTERN_LEN: usize = 512;
/// Most repository rules of one scope (a namespace's ImagePolicies, or the
/// ClusterImagePolicies), so that resolving one image is bounded whatever the policies say:
/// twice the largest set benchmarked, about 8 ms per image when every rule has to be tried.
pub const MAX_SCOPE_REPOSITORIES: usize = 20_000;
/// Default of `Options::max_containers`: images of one object, each verified in turn.
pub const MAX_CONTAINERS: usize = 512;

// Keys and certificates.

/// Most bytes of one key as it arrives (`keyval.public` in metadata, a pinned signer's PEM
/// from a Secret), checked before any parsing. Notary's largest, an 8192-bit RSA key in a PEM
/// certificate, is about 3 KiB.
pub const MAX_KEY_BYTES: usize = 64 * 1024;
/// RSA modulus sizes: notary's minimum; the maximum bounds the cost of a verification.
pub const RSA_BITS: RangeInclusive<usize> = 2048..=8192;

// Notary trust data.

/// Bytes of one role's file.
pub const MAX_ROLE_BYTES: usize = 10 * 1024 * 1024;
/// Signatures on one role: each is a public-key operation.
pub const MAX_ROLE_SIGNATURES: usize = 100;
/// Keys in one `keys` map, and key IDs listed for one role: each is parsed.
pub const MAX_ROLE_KEYS: usize = 1000;
/// Delegations listed in one targets file.
pub const MAX_DELEGATIONS: usize = 1000;
/// Delegation roles walked while searching for a target: each may be one more fetch.
pub const MAX_ROLES_WALKED: usize = 1000;
/// Segments below `targets/` in a delegation name (`targets/a/b` has 2).
pub const MAX_DELEGATION_DEPTH: usize = 8;
/// Nesting canonicalised. serde_json's parser reads at most 127 levels (its recursion limit of
/// 128 refuses the 128th), so values parsed from metadata never reach this; only a hand-built
/// `Value` can, and 128 levels still canonicalise.
pub const MAX_JSON_DEPTH: usize = 128;

// Simple signing and cosign.

/// Most bytes of one signed payload (containers/image's and cosign's are a few hundred).
pub const MAX_PAYLOAD: usize = 64 * 1024;
/// Most bytes of one OpenPGP signature message: one payload and its signatures.
pub const MAX_PGP_MESSAGE: usize = 64 * 1024;
/// Most bytes of one keyring (a Secret holds at most 1 MiB anyway).
pub const MAX_KEYRING: usize = 1024 * 1024;
/// Most signatures in one OpenPGP message: each is a public-key operation.
pub const MAX_PGP_SIGNATURES: usize = 16;
/// Compression layers unwrapped before giving up (gpg writes one).
pub const MAX_PGP_LAYERS: usize = 4;
/// Most certificates read from one keyring (the copies of a key count each).
pub const MAX_KEYRING_KEYS: usize = 64;
/// Most subkeys read from one keyring.
pub const MAX_KEYRING_SUBKEYS: usize = 256;
/// Most signature layers read from one cosign signature artifact: each is a verification.
pub const MAX_COSIGN_SIGNATURES: usize = 16;
/// Most bytes of one base64 cosign signature (an 8192-bit RSA signature is about 1.4 KiB).
pub const MAX_COSIGN_SIGNATURE_BYTES: usize = 4 * 1024;

// Registries.

/// Most bytes of one `WWW-Authenticate` value. Registries send a few hundred (realm, service
/// and one scope); a longer value is refused rather than parsed.
pub const MAX_CHALLENGE_BYTES: usize = 16 * 1024;
/// Most bytes of a token server's answer. Tokens are JWTs of a few KiB; OAuth2 servers may add
/// a refresh token and an ID token.
pub const MAX_TOKEN_REPLY_BYTES: usize = 256 * 1024;
/// Most bytes of one docker config: Kubernetes caps a whole Secret at 1 MiB.
pub const MAX_DOCKER_CONFIG_BYTES: usize = 1024 * 1024;
/// Most registries (keys of `auths`) in one docker config.
pub const MAX_DOCKER_CONFIG_ENTRIES: usize = 1000;
/// Largest manifest accepted (containers/image's limit for manifests); fetchers should stop
/// reading there.
pub const MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;
/// Largest signature list accepted (containers/image's limit); fetchers should stop reading
/// there.
pub const MAX_SIGNATURE_LIST_BYTES: usize = 4 * 1024 * 1024;
/// Entries read from one referrers index (the referrers API's answer or the `sha256-<hex>`
/// fallback tag's index): each is a few hundred bytes, so 1,024 fit well within
/// [`MAX_MANIFEST_BYTES`]; an image with more referrers than that is refused, not cut short.
pub const MAX_REFERRER_INDEX_ENTRIES: usize = 1024;
/// Referrers of one artifact type fetched for one image: each costs a manifest and its blobs.
/// Signers add one each (a cosign v3 bundle, a Notation signature); 32 leaves room for
/// re-signing and key rotation. Entries the index lists without a type count too, since
/// their manifests must be read to know it.
pub const MAX_REFERRERS: usize = 32;
/// Layers of one referrer: cosign's bundles and Notation's signatures have one.
pub const MAX_REFERRER_LAYERS: usize = 8;
/// Default bound on one referrer blob: a whole Sigstore bundle ([`MAX_BUNDLE_BYTES`]). A
/// signature bundle is under 16 KiB and a Notation envelope a few KiB, but an attestation
/// bundle carries its statement, and an SBOM of a large image runs to MiBs.
pub const MAX_REFERRER_BLOB_BYTES: usize = MAX_BUNDLE_BYTES;

// Admission responses.

/// The API server cuts a warning longer than this (Kubernetes recommends 120; reasons come
/// first, so what matters survives a cut) and drops warnings past 4 KiB in all, a budget shared
/// with other webhooks and deprecation notices.
pub const MAX_WARNING_CHARS: usize = 256;
/// Warnings given one by one; more are summed up in one last warning. Eight of at most 256
/// characters and the count of the rest take about half of the 4 KiB budget.
pub const MAX_WARNINGS: usize = 8;

// Sigstore bundles.

/// Most bytes of one Sigstore bundle (JSON). A bundle holds one certificate (about 3 KiB), one
/// log entry whose body repeats the certificate, and at most an in-toto statement; SLSA
/// provenance statements run to tens of KiB. Fetchers should stop reading here.
pub const MAX_BUNDLE_BYTES: usize = 4 * 1024 * 1024;
/// Most transparency-log entries in one bundle (clients write one): each is a verification.
pub const MAX_TLOG_ENTRIES: usize = 8;
/// Most hashes in one inclusion proof: the audit path of a tree of up to 2^64 leaves.
pub const MAX_INCLUSION_PROOF_HASHES: usize = 64;
/// Most RFC 3161 timestamps in one bundle (clients write one): each is a verification.
pub const MAX_RFC3161_TIMESTAMPS: usize = 8;
/// Most certificates in a bundle's `x509CertificateChain`: one chain's bound.
pub const MAX_BUNDLE_CHAIN: usize = MAX_CHAIN_CERTIFICATES;
/// Most signature lines in one checkpoint: the log's and its witnesses' cosignatures, each
/// looked at (only the log's is verified).
pub const MAX_CHECKPOINT_SIGNATURES: usize = 32;
/// Most subjects read from one in-toto statement.
pub const MAX_INTOTO_SUBJECTS: usize = 1024;
/// Most bytes of one `trusted_root.json`. The public-good root is about 10 KiB.
pub const MAX_TRUSTED_ROOT_BYTES: usize = 1024 * 1024;
/// Most entries in each list of a trusted root (tlogs, ctlogs, CAs, TSAs): each is parsed.
pub const MAX_TRUSTED_ROOT_ENTRIES: usize = 100;
/// Most certificates in one chain, a trusted root's or a bundle's (Fulcio's are 2 or 3 long).
pub const MAX_CHAIN_CERTIFICATES: usize = 10;
/// Most SCTs read from one certificate: each may be a signature check.
pub const MAX_SCTS: usize = 16;
/// Most bytes of one RFC 3161 timestamp response (Sigstore's are under 2 KiB with the chain).
pub const MAX_TIMESTAMP_BYTES: usize = 64 * 1024;
/// Most bytes of one identity pattern (issuer, subject or extension; exact or regex).
pub const MAX_IDENTITY_PATTERN: usize = 1024;
/// Most identities in one policy entry's list: each is tried in turn.
pub const MAX_IDENTITIES: usize = 100;

// Notation.

/// A trust policy document (`trustpolicy.json`).
pub const MAX_TRUST_POLICY_BYTES: usize = 256 * 1024;
/// Statements in a trust policy document.
pub const MAX_TRUST_POLICY_STATEMENTS: usize = 256;
/// Bytes of one signature envelope (JWS or COSE), checked before parsing. An envelope holds a
/// descriptor, a certificate chain of at most [`MAX_CHAIN_CERTIFICATES`] (a few KiB each) and
/// perhaps a timestamp token; notation's are a few KiB.
pub const MAX_NOTATION_ENVELOPE_BYTES: usize = 512 * 1024;
/// Most certificates in one trust store (named stores of a trust policy together): each may
/// be compared with a chain's, and a timestamp authority's may be tried as its root.
pub const MAX_TRUST_STORE_CERTIFICATES: usize = 1000;
/// Most CRLs supplied with the trust stores: each is parsed and may be checked.
pub const MAX_CRLS: usize = 64;
/// Most bytes of one CRL (DER or PEM). A public CA's CRL reaches a few MiB with tens of
/// thousands of entries; a private code-signing CA's is a few KiB.
pub const MAX_CRL_BYTES: usize = 8 * 1024 * 1024;
/// Most revoked entries read from one CRL: each is held in memory while checking.
pub const MAX_CRL_ENTRIES: usize = 200_000;

// Attestations and their CEL conditions.

/// Conditions of one `attestations` entry.
pub const MAX_CONDITIONS: usize = 64;

/// Most bytes of one in-toto statement whose predicate conditions are checked (the envelope's
/// payload, decoded). SLSA provenance is a few KiB; an SBOM or a vulnerability scan of a large
/// image reaches a few MiB. Conditions are validated against the worst statement of this size:
/// any list or map in it may hold this many entries and any string this many bytes.
pub const ATTESTATION_STATEMENT_MAX: usize = 4 * 1024 * 1024;
/// Most bytes of one condition's source: conditions are single predicates, not programs.
pub const MAX_CONDITION_SOURCE: usize = 4 * 1024;
/// Deepest expression tree of one condition. The interpreter recurses once a level; CEL's
/// parser refuses more than 96 nested expressions, but chains (`a.b.c…`, `1+1+1…`) nest
/// without limit, so the tree is measured too.
pub const MAX_CONDITION_DEPTH: usize = 64;
/// Most states of the automaton compiled from one `matches` pattern: matching costs this many
/// steps a byte at worst (a Pike VM), and `a{1000}{1000}` is refused rather than built.
pub const MAX_CONDITION_REGEX_STATES: usize = 4096;
/// Cost (see `condition`) above which a condition is refused when a policy is
/// validated, estimated for the worst statement of [`ATTESTATION_STATEMENT_MAX`] bytes. One
/// scan of a predicate list of 4 Mi entries with a body of a few hundred units passes (about
/// 2^30 units), and so does a scan of each element's own list (containment: together they
/// are no longer than the statement); a scan of the statement nested in a scan of it (2^44
/// and up) does not.
pub const CONDITION_STATIC_COST: u64 = 1 << 32;
/// Cost above which one condition is not evaluated on a given statement (estimated with the
/// statement's own sizes, before evaluating). A unit measured up to 80 ns at worst (release,
/// 2 cores; `core/benches/conditions.rs`: deep equality of lists of maps, scans of maps,
/// nested scans), so one check takes about 40 ms at most; Kubernetes allows 1e6 of its units
/// a call.
pub const CONDITION_RUNTIME_COST: u64 = 500_000;
