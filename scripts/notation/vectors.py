#!/usr/bin/env python3
"""Writes core/tests/fixtures/notation/ (run by scripts/notation-vectors.sh, which passes
SIGNER PKI_DIR TSA_URL TSA_ROOT OUT): signs envelopes with notation-signer --out over one fixed
descriptor, checks every case whose `now` is the generation time with notation-go's own verifier
(notation-signer verify) and fails unless notation-go gives the expected outcome, then writes
the envelopes, the PKI a verifier needs, trust-policy.json and cases.json.
"""
import base64
import datetime
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

SIGNER, PKI, TSA_URL, TSA_ROOT, OUT = sys.argv[1:6]
SUBJECT = "C=US, ST=WA, L=Seattle, O=acme-rockets.io, CN="
JWS, COSE = "application/jose+json", "application/cose"

NOW = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def rfc3339(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


# The signed artifact: a small OCI image manifest (manifest.json here); every envelope signs its
# descriptor, except where a case says otherwise.
MANIFEST = json.dumps({
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {
        "mediaType": "application/vnd.oci.image.config.v1+json",
        "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
        "size": 2,
    },
    "layers": [],
    "annotations": {"org.opencontainers.image.title": "portieris notation test vector"},
}, separators=(",", ":"), sort_keys=True).encode()
DESCRIPTOR = {
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "digest": "sha256:" + hashlib.sha256(MANIFEST).hexdigest(),
    "size": len(MANIFEST),
}
OTHER_DESCRIPTOR = dict(DESCRIPTOR, digest="sha256:" + hashlib.sha256(b"another manifest").hexdigest())

# Trust stores (notation's "type:name"), and the PKI files (relative to OUT) they hold.
STORES = {
    "ca:acme": ["pki/root.pem"],
    "ca:other": ["pki/other-root.pem"],
    "signingAuthority:acme-sa": ["pki/sa-root.pem"],
    "signingAuthority:acme-root": ["pki/root.pem"],
    "tsa:portieris-tsa": ["pki/tsa-root.pem"],
    "tsa:other": ["pki/other-root.pem"],
}


def policy(name, stores, identities=("*",), verify_timestamp=None):
    p = {
        "name": name,
        "registryScopes": [f"registry.example/{name}"],
        "signatureVerification": {"level": "strict"},
        "trustStores": list(stores),
        "trustedIdentities": list(identities),
    }
    if verify_timestamp:
        p["signatureVerification"]["verifyTimestamp"] = verify_timestamp
    return p


POLICIES = {
    "ca": policy("ca", ["ca:acme"]),
    "ca-tsa": policy("ca-tsa", ["ca:acme", "tsa:portieris-tsa"]),
    "ca-tsa-after-expiry": policy("ca-tsa-after-expiry", ["ca:acme", "tsa:portieris-tsa"], verify_timestamp="afterCertExpiry"),
    "ca-tsa-other": policy("ca-tsa-other", ["ca:acme", "tsa:other"]),
    "ca-leaf-rsa": policy("ca-leaf-rsa", ["ca:acme"], [f"x509.subject: {SUBJECT}leaf-rsa"]),
    "ca-leaf-ec": policy("ca-leaf-ec", ["ca:acme"], [f"x509.subject: {SUBJECT}leaf-ec"]),
    "other": policy("other", ["ca:other"]),
    "sa": policy("sa", ["signingAuthority:acme-sa"]),
    "sa-root": policy("sa-root", ["signingAuthority:acme-root"]),
}

# Envelopes: file -> notation-signer sign arguments (key/chain from PKI by leaf name).
PAST = "2024-06-01T00:00:00Z"
TSA = ["--tsa-url", TSA_URL, "--tsa-root", TSA_ROOT]
ENVELOPES = {
    "jws-rsa.jws": ("leaf-rsa", "jws", []),
    "cose-rsa.cose": ("leaf-rsa", "cose", []),
    "jws-ec.jws": ("leaf-ec", "jws", []),
    "cose-ec.cose": ("leaf-ec", "cose", []),
    "jws-rsa-tsa.jws": ("leaf-rsa", "jws", TSA),
    "cose-ec-tsa.cose": ("leaf-ec", "cose", TSA),
    "jws-sa.jws": ("sa-leaf", "jws", ["--scheme", "notary.x509.signingAuthority"]),
    "cose-sa.cose": ("sa-leaf", "cose", ["--scheme", "notary.x509.signingAuthority"]),
    "jws-sa-expired-leaf.jws": ("sa-leaf-expired", "jws", ["--scheme", "notary.x509.signingAuthority", "--signing-time", PAST]),
    "jws-expired-leaf.jws": ("leaf-expired", "jws", ["--signing-time", PAST]),
    "cose-expired-leaf-tsa.cose": ("leaf-expired", "cose", ["--signing-time", PAST] + TSA),
    "jws-short-leaf-tsa.jws": ("leaf-short", "jws", TSA),
    "jws-revoked.jws": ("leaf-revoked", "jws", []),
    "cose-cdp.cose": ("leaf-cdp", "cose", []),
    "jws-untrusted.jws": ("leaf-untrusted", "jws", []),
    "jws-wrong-eku.jws": ("leaf-wrong-eku", "jws", ["--unchecked-chain"]),
    "cose-wrong-eku.cose": ("leaf-wrong-eku", "cose", ["--unchecked-chain"]),
    "cose-expiry.cose": ("leaf-ec", "cose", ["--expiry", "1h"]),
    "jws-expiry-passed.jws": ("leaf-ec", "jws", ["--signing-time", rfc3339(NOW - datetime.timedelta(hours=2)), "--expiry", "1h"]),
}

H = datetime.timedelta(hours=1)
D = datetime.timedelta(days=1)
# Cases: (file, policy, expect, note, extra) with extra keys: crls (PKI file names), now
# (a datetime; default NOW), descriptor (default DESCRIPTOR).
CASES = [
    ("jws-rsa.jws", "ca", "valid", "RSA-3072 leaf (PS384), trust store ca:acme, any identity", {}),
    ("jws-rsa.jws", "ca-leaf-rsa", "valid", "trusted identity = the leaf's subject", {}),
    ("jws-rsa.jws", "ca-leaf-ec", "identity", "trusted identity names another subject", {}),
    ("jws-rsa.jws", "other", "untrusted", "trust store holds another root", {}),
    ("jws-rsa.jws", "sa-root", "untrusted", "notary.x509 signature: signingAuthority stores do not count, even with the right root", {}),
    ("jws-rsa.jws", "ca-tsa", "timestamp-missing", "a policy with a tsa store requires a timestamp (verifyTimestamp always)", {}),
    ("jws-rsa.jws", "ca-tsa-after-expiry", "valid", "verifyTimestamp afterCertExpiry: no timestamp needed while the chain is valid", {}),
    ("jws-rsa.jws", "ca", "mismatch", "the envelope signs another descriptor than the one given", {"descriptor": OTHER_DESCRIPTOR}),
    ("cose-rsa.cose", "ca", "valid", "RSA-3072 leaf (PS384)", {}),
    ("jws-ec.jws", "ca", "valid", "P-256 leaf (ES256)", {}),
    ("jws-ec.jws", "ca-leaf-ec", "valid", "trusted identity = the leaf's subject", {}),
    ("cose-ec.cose", "ca", "valid", "P-256 leaf (ES256)", {}),
    ("jws-rsa-tsa.jws", "ca-tsa", "valid", "RFC 3161 timestamp from the loopback TSA, trusted", {}),
    ("jws-rsa-tsa.jws", "ca", "valid", "no tsa store in the policy: the timestamp is not looked at", {}),
    ("jws-rsa-tsa.jws", "ca-tsa-other", "timestamp-untrusted", "the TSA's root is not in the policy's tsa store", {}),
    ("cose-ec-tsa.cose", "ca-tsa", "valid", "RFC 3161 timestamp from the loopback TSA, trusted", {}),
    ("jws-sa.jws", "sa", "valid", "notary.x509.signingAuthority with io.cncf.notary.authenticSigningTime", {}),
    ("jws-sa.jws", "ca", "untrusted", "signingAuthority signature: ca stores do not count", {}),
    ("cose-sa.cose", "sa", "valid", "notary.x509.signingAuthority", {}),
    ("jws-sa-expired-leaf.jws", "sa", "valid", "leaf expired now, but valid at its authenticSigningTime (2024-06-01)", {}),
    ("jws-expired-leaf.jws", "ca", "expired", "leaf valid 2024-01-01..2025-01-01, signed 2024-06-01, no timestamp: checked at now", {}),
    ("cose-expired-leaf-tsa.cose", "ca-tsa", "expired", "the timestamp (generation time) is after the leaf expired", {}),
    ("cose-expired-leaf-tsa.cose", "ca", "expired", "no tsa store: checked at now", {}),
    ("jws-short-leaf-tsa.jws", "ca-tsa", "valid", "leaf valid until generation time + 1 day", {}),
    ("jws-short-leaf-tsa.jws", "ca-tsa", "valid", "two days later the leaf has expired, but the timestamp proves it signed while valid", {"now": NOW + 2 * D}),
    ("jws-short-leaf-tsa.jws", "ca", "expired", "two days later, no tsa store: checked at now", {"now": NOW + 2 * D}),
    ("jws-short-leaf-tsa.jws", "ca-tsa-after-expiry", "valid", "afterCertExpiry, two days later: the timestamp is checked and good", {"now": NOW + 2 * D}),
    ("jws-revoked.jws", "ca", "revoked", "leaf listed (keyCompromise) in the intermediate's CRL", {"crls": ["crl-revoked.der"]}),
    ("jws-revoked.jws", "ca", "valid", "the CRL made before the revocation lists nothing", {"crls": ["crl-empty.der"]}),
    ("jws-revoked.jws", "ca", "revocation-unknown", "the leaf has a CRL distribution point and no CRL can be had (strict)", {"crls": []}),
    ("cose-cdp.cose", "ca", "valid", "leaf with a CRL distribution point, not listed", {"crls": ["crl-revoked.der"]}),
    ("jws-untrusted.jws", "ca", "untrusted", "chain to other-root, which the policy does not trust", {}),
    ("jws-untrusted.jws", "other", "valid", "the same with other-root trusted", {}),
    ("jws-wrong-eku.jws", "ca", "invalid-chain", "leaf extendedKeyUsage serverAuth (signed with --unchecked-chain)", {}),
    ("cose-wrong-eku.cose", "ca", "invalid-chain", "leaf extendedKeyUsage serverAuth (signed with --unchecked-chain)", {}),
    ("cose-expiry.cose", "ca", "valid", "io.cncf.notary.expiry = signing time + 1 hour", {}),
    ("cose-expiry.cose", "ca", "signature-expired", "two hours later", {"now": NOW + 2 * H}),
    ("jws-expiry-passed.jws", "ca", "signature-expired", "signed two hours before generation, expiry one hour", {}),
    ("jws-expiry-passed.jws", "ca", "valid", "at signing time + 30 minutes", {"now": NOW - 2 * H + H / 2}),
    ("jws-tampered.jws", "ca", "integrity", "jws-ec.jws with one signature character changed", {}),
    ("cose-tampered.cose", "ca", "integrity", "cose-ec.cose with the last signature byte flipped", {}),
]


SEEN = set()


def unique(name):
    n, i = name, 2
    while n in SEEN:
        n, i = f"{name}/{i}", i + 1
    SEEN.add(n)
    return n


def run(*args):
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"notation-vectors: {' '.join(args)}\n{r.stderr}")
    return r.stdout


def classify(report):
    """notation-go's verify report -> this fixture's outcome name."""
    if report["verified"]:
        return "valid"
    failed = [r for r in report["results"] if r.get("error")]
    err = report.get("error", "")
    if not failed:
        if "does not match" in err or "mismatch" in err:
            return "mismatch"
        return "error: " + err
    kind, msg = failed[0]["type"], failed[0]["error"]
    if kind == "integrity":
        return "invalid-chain" if "certificate-chain is invalid" in msg else "integrity"
    if kind == "authenticity":
        if "trusted identities" in msg or "identity" in msg:
            return "identity"
        return "untrusted"
    if kind == "expiry":
        return "signature-expired"
    if kind == "authenticTimestamp":
        if "no timestamp countersignature" in msg:
            return "timestamp-missing"
        if "tsa trust store" in msg or "failed to verify the timestamp countersignature" in msg or "timestamp" in msg and "trust" in msg:
            return "timestamp-untrusted"
        return "expired"
    if kind == "revocation":
        return "revocation-unknown" if "unknown" in msg else "revoked"
    return f"{kind}: {msg}"


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(f"{OUT}/envelopes")
    os.makedirs(f"{OUT}/pki")
    with open(f"{OUT}/manifest.json", "wb") as f:
        f.write(MANIFEST)
    for name in ["root", "intermediate", "other-root", "sa-root"]:
        shutil.copy(f"{PKI}/{name}.pem", f"{OUT}/pki/{name}.pem")
    for name in ["leaf-rsa", "leaf-ec", "leaf-expired", "leaf-short", "leaf-revoked", "leaf-cdp",
                 "leaf-untrusted", "leaf-wrong-eku", "sa-leaf", "sa-leaf-expired"]:
        shutil.copy(f"{PKI}/{name}.pem", f"{OUT}/pki/{name}.pem")
    for name in ["crl-empty", "crl-revoked", "crl-root"]:
        for ext in ["der", "pem"]:
            shutil.copy(f"{PKI}/{name}.{ext}", f"{OUT}/pki/{name}.{ext}")
    shutil.copy(TSA_ROOT, f"{OUT}/pki/tsa-root.pem")
    shutil.copy(f"{PKI}/subjects.txt", f"{OUT}/pki/subjects.txt")

    desc_json = json.dumps(DESCRIPTOR, separators=(",", ":"))
    for file, (leaf, env, extra) in ENVELOPES.items():
        run(SIGNER, "sign", "--key", f"{PKI}/{leaf}.key", "--chain", f"{PKI}/{leaf}.chain.pem",
            "--envelope", env, "--descriptor-json", desc_json, "--out", f"{OUT}/envelopes/{file}", *extra)
    # Tampered copies: the signature no longer matches.
    doc = json.load(open(f"{OUT}/envelopes/jws-ec.jws"))
    sig = doc["signature"]
    doc["signature"] = ("B" if sig[0] != "B" else "C") + sig[1:]
    with open(f"{OUT}/envelopes/jws-tampered.jws", "w") as f:
        json.dump(doc, f, separators=(",", ":"))
    raw = bytearray(open(f"{OUT}/envelopes/cose-ec.cose", "rb").read())
    raw[-1] ^= 0x01
    with open(f"{OUT}/envelopes/cose-tampered.cose", "wb") as f:
        f.write(raw)

    # A trust store directory in notation's layout, for notation-go's verifier.
    work = tempfile.mkdtemp()
    try:
        for store, files in STORES.items():
            kind, name = store.split(":")
            d = f"{work}/truststore/x509/{kind}/{name}"
            os.makedirs(d)
            for p in files:
                shutil.copy(f"{OUT}/{p}", d)
        # The whole trust policy document, as notation-go loads it (one policy per scope).
        polfile = f"{work}/trustpolicy.oci.json"
        with open(polfile, "w") as f:
            json.dump({"version": "1.0", "trustPolicies": list(POLICIES.values())}, f)
        cases = []
        failures = []
        for file, pol, expect, note, extra in CASES:
            now = extra.get("now", NOW)
            descriptor = extra.get("descriptor", DESCRIPTOR)
            crls = extra.get("crls", [])
            media = JWS if file.endswith(".jws") else COSE
            case = {
                "name": unique(f"{file.rsplit('.', 1)[0]}/{pol}/{expect}"),
                "file": f"envelopes/{file}",
                "media_type": media,
                "descriptor": descriptor,
                "policy": pol,
                "crls": [f"pki/{c}" for c in crls],
                "now": rfc3339(now),
                "expect": expect,
                "note": note,
            }
            case["artifact_reference"] = f"registry.example/{pol}@{descriptor['digest']}"
            if now == NOW:
                args = [SIGNER, "verify", "--envelope-file", f"{OUT}/envelopes/{file}",
                        "--envelope", "jws" if media == JWS else "cose",
                        "--descriptor-json", json.dumps(descriptor), "--trust-policy", polfile,
                        "--trust-store", work, "--reference", f"registry.example/{pol}"]
                # Only one CRL can be given; every case here needs at most one.
                if crls:
                    args += ["--crl-file", f"{PKI}/{crls[0]}"]
                report = json.loads(run(*args))
                got = classify(report)
                case["notation_go"] = {"outcome": got, "error": report.get("error", "")}
                if got != expect:
                    failures.append(f"{case['name']}: expected {expect}, notation-go: {got} ({report.get('error', '')})")
            else:
                case["notation_go"] = None
            cases.append(case)
    finally:
        shutil.rmtree(work)
    if failures:
        sys.exit("notation-vectors: notation-go disagrees:\n  " + "\n  ".join(failures))

    with open(f"{OUT}/trust-policy.json", "w") as f:
        json.dump({"version": "1.0", "trustPolicies": list(POLICIES.values())}, f, indent=2)
        f.write("\n")
    with open(f"{OUT}/cases.json", "w") as f:
        json.dump({
            "generated_at": rfc3339(NOW),
            "descriptor": DESCRIPTOR,
            "trust_stores": STORES,
            "policies": "trust-policy.json: trustPolicies[].name; policy P has registryScopes [registry.example/P]",
            "cases": cases,
        }, f, indent=2)
        f.write("\n")
    print(f"notation-vectors: {len(ENVELOPES) + 2} envelopes, {len(cases)} cases in {OUT}")


main()
