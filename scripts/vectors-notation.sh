#!/usr/bin/env bash
# Copies the Notary Project's own signature envelopes with RFC 3161 timestamps from real
# timestamp authorities (notation-go's verifier/testdata/timestamp/sigEnv/, Apache-2.0 test
# data) and the trust store certificates they are checked with into
# core/tests/fixtures/notation/spec/, runs notation-go's verifier (scripts/notation-bin.sh
# `verify`) over each under a few trust policies, and writes what it says into
# spec/cases.json (the same shape as ../cases.json). Only test data is copied, never code.
#
#   scripts/vectors-notation.sh NOTATION_GO_GIT_DIR [COMMIT]
#
# NOTATION_GO_GIT_DIR is a clone (bare is fine) of github.com/notaryproject/notation-go;
# COMMIT defaults to 34a1aba2261cbe97b597ec96e440a61f6aadc416 (tag v1.3.2, the version the
# signer uses). Why not notation-core-go's or the specifications' vectors: notation-core-go's
# signature/{jws,cose}/testdata/conformance.json hold only headers signed by a key made at test
# time (no certificate chain, no verifiable signature), and the specifications repository has
# no test data.
set -euo pipefail
git_dir=${1:?usage: vectors-notation.sh NOTATION_GO_GIT_DIR [COMMIT]}
commit=${2:-34a1aba2261cbe97b597ec96e440a61f6aadc416}
root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/core/tests/fixtures/notation/spec
signer=$("$root/scripts/notation-bin.sh")
git -C "$git_dir" cat-file -e "$commit^{commit}"

rm -rf "$out"
mkdir -p "$out/envelopes" "$out/truststore/ca/valid-trust-store" "$out/truststore/tsa/test-timestamp"
show() { git -C "$git_dir" show "$commit:$1"; }
src=verifier/testdata
for f in jwsWithTimestamp coseWithTimestamp jwsExpiredWithTimestamp coseExpiredWithTimestamp \
	timestampBeforeNotBefore timestampAfterNotAfter withoutTimestamp; do
	show "$src/timestamp/sigEnv/$f.sig" >"$out/envelopes/$f.sig"
done
for f in GlobalSign.der GlobalSignRootCA.crt NotationTestRoot.pem TestTimestamp.crt \
	TestTimestampNotYetValid.crt wabbit-networks.io.crt; do
	show "$src/truststore/x509/ca/valid-trust-store/$f" >"$out/truststore/ca/valid-trust-store/$f"
done
show "$src/truststore/x509/tsa/test-timestamp/globalsignRoot.cer" >"$out/truststore/tsa/test-timestamp/globalsignRoot.cer"
show LICENSE >"$out/LICENSE"

python3 - "$signer" "$out" "$commit" <<'PY'
import datetime, json, os, shutil, subprocess, sys, tempfile

signer, out, commit = sys.argv[1:4]
now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
# Every envelope there signs this (from its payload).
descriptor = {"mediaType": "application/vnd.docker.distribution.manifest.v2+json",
              "digest": "sha256:c0669ef34cdc14332c0f1ab0c2c01acb91d96014b172f1a76f3a39e63d1f0bda",
              "size": 528}
def policy(name, stores, verify_timestamp=None):
    sv = {"level": "strict", "override": {"revocation": "skip"}}
    if verify_timestamp:
        sv["verifyTimestamp"] = verify_timestamp
    return {"name": name, "registryScopes": [f"registry.example/{name}"],
            "signatureVerification": sv, "trustStores": stores, "trustedIdentities": ["*"]}
# ca:valid-trust-store is notation-go's; ca:leaves holds the envelopes' own (self-signed)
# signing certificates, some of which valid-trust-store lacks.
policies = {
    "tsa": policy("tsa", ["ca:valid-trust-store", "ca:leaves", "tsa:test-timestamp"]),
    "tsa-after-expiry": policy("tsa-after-expiry", ["ca:valid-trust-store", "ca:leaves", "tsa:test-timestamp"], "afterCertExpiry"),
    "no-tsa": policy("no-tsa", ["ca:valid-trust-store", "ca:leaves"]),
}
# (file, what notation-go's own test (verifier/timestamp_test.go TestAuthenticTimestamp) says
# of its authentic-timestamp check under trust stores ca:valid-trust-store + tsa:test-timestamp)
envelopes = [
    ("jwsWithTimestamp.sig", "succeeds"),
    ("coseWithTimestamp.sig", "succeeds"),
    ("jwsExpiredWithTimestamp.sig", "succeeds (leaf expired, timestamp inside its validity)"),
    ("coseExpiredWithTimestamp.sig", "succeeds (leaf expired, timestamp inside its validity)"),
    ("timestampBeforeNotBefore.sig", "fails: timestamp before the certificate's validity"),
    ("timestampAfterNotAfter.sig", "fails: timestamp after the certificate's validity"),
    ("withoutTimestamp.sig", "fails (tsa store in the policy): no timestamp countersignature"),
]

def classify(report):
    if report["verified"]:
        return "valid"
    failed = [r for r in report["results"] if r.get("error")]
    if not failed:
        return "error: " + report.get("error", "")
    kind, msg = failed[0]["type"], failed[0]["error"]
    if kind == "integrity":
        return "invalid-chain" if "certificate-chain is invalid" in msg else "integrity"
    if kind == "authenticity":
        return "identity" if "identit" in msg else "untrusted"
    if kind == "expiry":
        return "signature-expired"
    if kind == "authenticTimestamp":
        if "revocation status is unknown" in msg:
            return "revocation-unknown"
        if "no timestamp countersignature" in msg:
            return "timestamp-missing"
        if "failed to verify the timestamp countersignature" in msg:
            return "timestamp-untrusted"
        return "expired"
    return f"{kind}: {msg}"

def envelope_kind(file):
    return "cose" if file.startswith("cose") or file == "timestampAfterNotAfter.sig" else "jws"

# The envelopes' signing certificates, as PEM, into truststore/ca/leaves/.
import base64
os.makedirs(f"{out}/truststore/ca/leaves", exist_ok=True)
for file, _ in envelopes:
    r = subprocess.run([signer, "inspect", "--envelope-file", f"{out}/envelopes/{file}",
                        "--envelope", envelope_kind(file)], capture_output=True, text=True, check=True)
    der = base64.b64decode(json.loads(r.stdout)["chain"][0]["der"])
    b64 = base64.b64encode(der).decode()
    pem = "-----BEGIN CERTIFICATE-----\n" + "\n".join(b64[i:i + 64] for i in range(0, len(b64), 64)) + "\n-----END CERTIFICATE-----\n"
    with open(f"{out}/truststore/ca/leaves/{file.rsplit('.', 1)[0]}.pem", "w") as f:
        f.write(pem)

work = tempfile.mkdtemp()
try:
    shutil.copytree(f"{out}/truststore", f"{work}/truststore/x509")
    polfile = f"{work}/trustpolicy.json"
    with open(polfile, "w") as f:
        json.dump({"version": "1.0", "trustPolicies": list(policies.values())}, f)
    cases = []
    for file, upstream in envelopes:
        env = envelope_kind(file)
        for pol in policies:
            r = subprocess.run([signer, "verify", "--envelope-file", f"{out}/envelopes/{file}",
                                "--envelope", env, "--descriptor-json", json.dumps(descriptor),
                                "--trust-policy", polfile, "--trust-store", work,
                                "--reference", f"registry.example/{pol}", "--skip-tsa-revocation"],
                               capture_output=True, text=True, check=True)
            report = json.loads(r.stdout)
            got = classify(report)
            cases.append({
                "name": f"{file.rsplit('.', 1)[0]}/{pol}/{got}",
                "file": f"envelopes/{file}",
                "media_type": "application/cose" if env == "cose" else "application/jose+json",
                "descriptor": descriptor,
                "policy": pol,
                "artifact_reference": f"registry.example/{pol}@{descriptor['digest']}",
                "crls": [],
                "now": now,
                "expect": got,
                "note": f"notation-go's unit test: {upstream}" if pol == "tsa" else "",
                "notation_go": {"outcome": got, "error": report.get("error", "")},
            })
finally:
    shutil.rmtree(work)
with open(f"{out}/trust-policy.json", "w") as f:
    json.dump({"version": "1.0", "trustPolicies": list(policies.values())}, f, indent=2)
    f.write("\n")
stores = {}
for kind in ["ca", "tsa"]:
    for name in sorted(os.listdir(f"{out}/truststore/{kind}")):
        stores[f"{kind}:{name}"] = [f"truststore/{kind}/{name}/{c}" for c in sorted(os.listdir(f"{out}/truststore/{kind}/{name}"))]
with open(f"{out}/cases.json", "w") as f:
    json.dump({"source": f"github.com/notaryproject/notation-go@{commit} verifier/testdata",
               "generated_at": now, "descriptor": descriptor, "trust_stores": stores,
               "policies": "trust-policy.json: trustPolicies[].name; policy P has registryScopes [registry.example/P]; revocation skipped (signing chain by the policy, timestamping chain by the checker)",
               "cases": cases}, f, indent=2)
    f.write("\n")
for c in cases:
    print(f"{c['name']}: {c['notation_go']['error'][:140]}")
PY
