#!/usr/bin/env bash
# Regenerates core/tests/fixtures/sigstore/ with cosign v3 against the running loopback
# Sigstore (scripts/sigstore.sh start): it pushes test images to its registry, signs them
# (keyless with the email and the GitHub-like issuer, keyless without a tlog entry, with a key,
# and in the legacy `.sig` format with a key and keyless), checks each with `cosign verify`, and
# copies what a verifier needs. Every file there is made by this script; never edit them by
# hand. See that folder's README.md.
#
#   scripts/sigstore.sh start && scripts/sigstore-vectors.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/core/tests/fixtures/sigstore
eval "$("$root/scripts/sigstore.sh" env)"
cosign=$PORTIERIS_SIGSTORE_COSIGN
tr=$PORTIERIS_SIGSTORE_TRUSTED_ROOT
sc=$PORTIERIS_SIGSTORE_SIGNING_CONFIG
# The versions, before HOME moves (the build caches live under it).
versions=$("$cosign" version 2>/dev/null | grep -E '^GitVersion' | sed 's/^GitVersion: */cosign /')
for t in fulcio rekor-tiles tesseract timestamp-server; do
	versions+=$'\n'$(basename "$(dirname "$("$root/scripts/sigstore-bin.sh" "$t")")")
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# cosign keeps state under HOME (~/.sigstore, ~/.docker): a scratch one.
export HOME=$work COSIGN_PASSWORD=portieris-fixtures
# A new repository each run: cosign adds to a digest's signatures, it never replaces them.
run=$(date -u +%Y%m%d%H%M%S)
base=$PORTIERIS_SIGSTORE_REGISTRY/fixtures/sigstore-$run
email=signer@portieris.test
github_repo=portieris-test/app
github_identity="https://github.com/$github_repo/.github/workflows/release.yml@refs/heads/main"

say() { printf 'sigstore-vectors: %s\n' "$*" >&2; }

# push NAME: a one-layer OCI image (scripts/rig/mkimage.py); prints its digest.
push() {
	local name=$1
	python3 "$root/scripts/rig/mkimage.py" "$work/layout" "$name" "portieris sigstore fixture $name" >/dev/null
	skopeo copy -q --format oci --dest-tls-verify=false "oci:$work/layout:$name" "docker://$base/$name:v1" >&2
	skopeo inspect --tls-verify=false --raw "docker://$base/$name:v1" >"$work/$name.manifest.json"
	echo "sha256:$(sha256sum <"$work/$name.manifest.json" | cut -d' ' -f1)"
}

# save NAME DIGEST: the image manifest, and what cosign attached to it in the registry.
save() {
	local name=$1 digest=$2 d=$out/$1
	mkdir -p "$d"
	cp "$work/$name.manifest.json" "$d/image.manifest.json"
	echo "$digest" >"$d/digest"
	echo "$base/$name@$digest" >"$d/image"
	PYTHONPATH="$root/scripts/lib" python3 - "$PORTIERIS_SIGSTORE_REGISTRY" "fixtures/sigstore-$run/$name" "$digest" "$d" <<-'EOF'
		import hashlib, json, sys, urllib.request
		registry, repo, digest, d = sys.argv[1:]
		OCI = ["application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
		       "application/vnd.docker.distribution.manifest.v2+json"]
		from oci_registry import reader
		get = reader(registry, repo)
		hexd = digest.split(":", 1)[1]
		found = []
		# New bundle format: an OCI index under the referrers fallback tag sha256-<hex>.
		index = get(f"manifests/sha256-{hexd}", OCI)
		if index is not None and json.loads(index).get("mediaType") == OCI[0]:
		    open(f"{d}/referrers.index.json", "wb").write(index)
		    for m in json.loads(index)["manifests"]:
		        raw = get(f"manifests/{m['digest']}", OCI)
		        assert "sha256:" + hashlib.sha256(raw).hexdigest() == m["digest"]
		        man = json.loads(raw)
		        for layer in man.get("layers", []):
		            if layer["mediaType"].startswith("application/vnd.dev.sigstore.bundle"):
		                blob = get(f"blobs/{layer['digest']}")
		                found.append((raw, blob))
		    if len(found) != 1:
		        sys.exit(f"expected one bundle referrer for {repo}@{digest}, found {len(found)}")
		    raw, blob = found[0]
		    open(f"{d}/referrer.manifest.json", "wb").write(raw)
		    open(f"{d}/bundle.sigstore.json", "wb").write(blob)
		# Legacy format: the sha256-<hex>.sig tag, an OCI manifest with one payload layer.
		sig = get(f"manifests/sha256-{hexd}.sig", OCI)
		if sig is not None:
		    open(f"{d}/signature.manifest.json", "wb").write(sig)
		    for layer in json.loads(sig)["layers"]:
		        open(f"{d}/signature.payload.json", "wb").write(get(f"blobs/{layer['digest']}"))
		        ann = layer.get("annotations", {})
		        open(f"{d}/signature.b64", "w").write(ann["dev.cosignproject.cosign/signature"] + "\n")
		        if "dev.sigstore.cosign/bundle" in ann:
		            open(f"{d}/signature.rekor-bundle.json", "w").write(ann["dev.sigstore.cosign/bundle"] + "\n")
		        if "dev.sigstore.cosign/certificate" in ann:
		            open(f"{d}/signature.certificate.pem", "w").write(ann["dev.sigstore.cosign/certificate"])
		        if "dev.sigstore.cosign/chain" in ann:
		            open(f"{d}/signature.chain.pem", "w").write(ann["dev.sigstore.cosign/chain"])
		        if "dev.sigstore.cosign/rfc3161timestamp" in ann:
		            open(f"{d}/signature.rfc3161-timestamp.json", "w").write(ann["dev.sigstore.cosign/rfc3161timestamp"] + "\n")
	EOF
}

rm -rf "$out/keyless" "$out/github" "$out/notlog" "$out/key" "$out/legacy" "$out/legacy-keyless"
mkdir -p "$out"
cp "$tr" "$out/trusted_root.json"
cp "$sc" "$out/signing_config.json"

# 1. Keyless, email issuer: cosign sign with its default settings (new bundle format, Rekor v2
#    entry, RFC 3161 timestamp, Fulcio certificate with an embedded SCT).
say "keyless (email issuer)"
digest=$(push keyless)
token=$(curl -fsS "$PORTIERIS_SIGSTORE_TOKEN_URL?sub=$email")
"$cosign" sign --yes --identity-token "$token" --signing-config "$sc" --trusted-root "$tr" \
	"$base/keyless@$digest" >&2
"$cosign" verify --trusted-root "$tr" --certificate-identity "$email" \
	--certificate-oidc-issuer "$PORTIERIS_SIGSTORE_OIDC_ISSUER" "$base/keyless@$digest" >"$work/verify.json"
save keyless "$digest"
cp "$work/verify.json" "$out/keyless/cosign-verify.json"
echo "$email" >"$out/keyless/identity"
echo "$PORTIERIS_SIGSTORE_OIDC_ISSUER" >"$out/keyless/issuer"

# 2. Keyless, GitHub-Actions-like issuer (Fulcio type github-workflow: certificate extensions).
say "keyless (github-workflow issuer)"
digest=$(push github)
token=$(curl -fsS "$PORTIERIS_SIGSTORE_GITHUB_TOKEN_URL?repository=$github_repo")
"$cosign" sign --yes --identity-token "$token" --signing-config "$sc" --trusted-root "$tr" \
	"$base/github@$digest" >&2
"$cosign" verify --trusted-root "$tr" --certificate-identity "$github_identity" \
	--certificate-oidc-issuer "$PORTIERIS_SIGSTORE_OIDC_GITHUB_ISSUER" \
	--certificate-github-workflow-repository "$github_repo" "$base/github@$digest" >"$work/verify.json"
save github "$digest"
echo "$github_identity" >"$out/github/identity"
echo "$PORTIERIS_SIGSTORE_OIDC_GITHUB_ISSUER" >"$out/github/issuer"

# 2b. Keyless without a transparency log entry (the signing config with no Rekor): Fulcio
#     certificate with SCT and a signed timestamp only. cosign verifies it only when told to
#     ignore the tlog; a verifier that requires a tlog entry must refuse it.
say "keyless without tlog"
digest=$(push notlog)
token=$(curl -fsS "$PORTIERIS_SIGSTORE_TOKEN_URL?sub=$email")
"$cosign" sign --yes --identity-token "$token" --signing-config "$PORTIERIS_SIGSTORE_SIGNING_CONFIG_NO_REKOR" \
	--trusted-root "$tr" "$base/notlog@$digest" >&2
if "$cosign" verify --trusted-root "$tr" --certificate-identity "$email" \
	--certificate-oidc-issuer "$PORTIERIS_SIGSTORE_OIDC_ISSUER" "$base/notlog@$digest" >/dev/null 2>&1; then
	say "cosign verify accepted a bundle with no tlog entry"
	exit 1
fi
"$cosign" verify --trusted-root "$tr" --certificate-identity "$email" --insecure-ignore-tlog \
	--certificate-oidc-issuer "$PORTIERIS_SIGSTORE_OIDC_ISSUER" "$base/notlog@$digest" >"$work/verify.json" \
	2> >(grep -v 'WARNING' >&2)
save notlog "$digest"
echo "$email" >"$out/notlog/identity"
echo "$PORTIERIS_SIGSTORE_OIDC_ISSUER" >"$out/notlog/issuer"

# 3. A key, new bundle format, Rekor v2 entry and timestamp (the signing config's services).
say "key (new bundle format)"
(cd "$work" && "$cosign" generate-key-pair >/dev/null 2>&1)
digest=$(push key)
"$cosign" sign --yes --key "$work/cosign.key" --signing-config "$sc" --trusted-root "$tr" \
	"$base/key@$digest" >&2
"$cosign" verify --key "$work/cosign.pub" --trusted-root "$tr" "$base/key@$digest" >"$work/verify.json"
save key "$digest"
cp "$work/cosign.pub" "$out/key/cosign.pub"

# 4. The same key, legacy format (a `.sig` tag; no transparency log: Rekor v2 takes no legacy
#    entries).
say "key (legacy .sig format)"
digest=$(push legacy)
"$cosign" sign --yes --key "$work/cosign.key" --new-bundle-format=false --use-signing-config=false \
	--tlog-upload=false "$base/legacy@$digest" >&2 2> >(grep -v 'deprecated' >&2)
"$cosign" verify --key "$work/cosign.pub" --new-bundle-format=false --insecure-ignore-tlog \
	"$base/legacy@$digest" >"$work/verify.json" 2> >(grep -v 'deprecated\|WARNING' >&2)
save legacy "$digest"
cp "$work/cosign.pub" "$out/legacy/cosign.pub"

# 5. Keyless, legacy format: Fulcio certificate (with SCT) and an RFC 3161 timestamp in the
#    `.sig` layer's annotations; no tlog entry (legacy signing needs Rekor v1's
#    /api/v1/log/entries, which rekor-tiles does not serve: 404).
say "keyless (legacy .sig format)"
digest=$(push legacy-keyless)
token=$(curl -fsS "$PORTIERIS_SIGSTORE_TOKEN_URL?sub=$email")
"$cosign" sign --yes --identity-token "$token" --new-bundle-format=false --use-signing-config=false \
	--tlog-upload=false --fulcio-url "$PORTIERIS_SIGSTORE_FULCIO_URL" \
	--timestamp-server-url "$PORTIERIS_SIGSTORE_TSA_URL" --trusted-root "$tr" \
	"$base/legacy-keyless@$digest" >&2 2> >(grep -v 'deprecated' >&2)
"$cosign" verify --new-bundle-format=false --insecure-ignore-tlog --use-signed-timestamps \
	--trusted-root "$tr" --certificate-identity "$email" \
	--certificate-oidc-issuer "$PORTIERIS_SIGSTORE_OIDC_ISSUER" "$base/legacy-keyless@$digest" \
	>"$work/verify.json" 2> >(grep -v 'deprecated\|WARNING' >&2)
save legacy-keyless "$digest"
echo "$email" >"$out/legacy-keyless/identity"
echo "$PORTIERIS_SIGSTORE_OIDC_ISSUER" >"$out/legacy-keyless/issuer"

echo "$versions" >"$out/VERSION"
say "wrote $out"
