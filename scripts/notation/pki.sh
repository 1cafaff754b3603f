#!/usr/bin/env bash
# Makes the X.509 PKI for Notary Project (Notation) signatures in DIR with openssl 3.0
# (`openssl ca`, which takes -startdate/-enddate and keeps the index a CRL is made from).
#
#   scripts/notation/pki.sh DIR
#
# Every subject is `C=US, ST=WA, L=Seattle, O=acme-rockets.io, CN=<name>` (how a Notary trust
# policy's trustedIdentities write it: "x509.subject: C=US, ST=WA, L=Seattle, O=acme-rockets.io,
# CN=leaf-rsa"). Certificates are valid from 2024-01-01 to 2036-01-01 (so that signing times in
# 2024 are inside every CA's validity), except where said. Keys are new on every run.
#
# In DIR (each leaf has NAME.key (PKCS#8 PEM), NAME.pem, NAME.chain.pem = leaf, CAs, root):
#   root.pem, root.key                   CN=root: RSA-3072, self-signed (the trusted root)
#   intermediate.pem, intermediate.key   CN=intermediate: RSA-3072, issued by root, pathlen 0
#   leaf-rsa                             RSA-3072 code-signing leaf (notation signs PS384)
#   leaf-ec                              EC P-256 code-signing leaf (ES256)
#   leaf-expired                         EC P-256, valid 2024-01-01 .. 2025-01-01 only
#   leaf-short                           EC P-256, valid 2024-01-01 .. now + 1 day
#   leaf-revoked                         EC P-256, with the CRL distribution point; revoked
#                                        (keyCompromise) in crl-revoked.*
#   leaf-cdp                             EC P-256, with the CRL distribution point; not revoked
#   leaf-wrong-eku                       EC P-256, extendedKeyUsage serverAuth (not codeSigning)
#   crl-empty.der, crl-empty.pem         CRL from intermediate listing nothing (made before the
#                                        revocation; CRL number 1)
#   crl-revoked.der, crl-revoked.pem     CRL from intermediate listing leaf-revoked (CRL number 2)
#   crl-root.der, crl-root.pem           CRL from root listing nothing
#   other-root.pem, other-root.key       CN=other-root: EC P-256, self-signed (NOT trusted)
#   leaf-untrusted                       EC P-256 leaf issued directly by other-root
#   sa-root.pem, sa-root.key             CN=sa-root: EC P-256, self-signed root of the signing
#                                        authority (trust store type signingAuthority)
#   sa-leaf                              EC P-256 leaf issued by sa-root
#   sa-leaf-expired                      EC P-256 leaf issued by sa-root, valid 2024-01-01 .. 2025-01-01
#   subjects.txt                         NAME<TAB>subject as a trust policy writes it
#
# The CRL distribution point is $NOTATION_PKI_CRL_URL (default
# http://127.0.0.1:5590/intermediate.crl); nothing serves it unless a test does.
# CAs: basicConstraints critical CA:TRUE, keyUsage critical keyCertSign+cRLSign. Leaves:
# basicConstraints critical CA:FALSE, keyUsage critical digitalSignature, extendedKeyUsage
# codeSigning (Notary's code-signing certificate rules).
set -euo pipefail
dir=${1:?usage: pki.sh DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
export CRL_URL=${NOTATION_PKI_CRL_URL:-http://127.0.0.1:5590/intermediate.crl}
START=20240101000000Z
END=20360101000000Z
SUBJ_PREFIX="/C=US/ST=WA/L=Seattle/O=acme-rockets.io/CN="
work=$dir/.ca
rm -rf "$work"
mkdir -p "$work"
# openssl req reads the whole file too: CA_DIR needs a value outside runca.
export CA_DIR=$work

cat >"$work/openssl.cnf" <<'EOF'
[ca]
default_ca = CA_default
[CA_default]
dir = ${ENV::CA_DIR}
database = $dir/index.txt
serial = $dir/serial
crlnumber = $dir/crlnumber
new_certs_dir = $dir/new
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
default_crl_days = 3650
[policy_any]
countryName = optional
stateOrProvinceName = optional
localityName = optional
organizationName = optional
commonName = supplied
[req]
distinguished_name = req_dn
prompt = no
[req_dn]
CN = unused
[v3_root]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[v3_intermediate]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[v3_leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = codeSigning
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[v3_leaf_cdp]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = codeSigning
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
crlDistributionPoints = URI:${ENV::CRL_URL}
[v3_leaf_wrong_eku]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[crl_ext]
authorityKeyIdentifier = keyid:always
EOF

# newkey NAME rsa|ec: DIR/NAME.key, PKCS#8 PEM.
newkey() {
	case $2 in
	rsa) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out "$dir/$1.key" 2>/dev/null ;;
	ec) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/$1.key" ;;
	esac
}

# initca NAME: the openssl ca state of the CA called NAME.
initca() {
	mkdir -p "$work/$1/new"
	: >"$work/$1/index.txt"
	echo 1000 >"$work/$1/serial"
	echo 01 >"$work/$1/crlnumber"
}

# runca CA ARGS...: openssl ca as CA (its key and certificate are DIR/CA.key, DIR/CA.pem).
runca() {
	local ca=$1
	shift
	CA_DIR=$work/$ca openssl ca -config "$work/openssl.cnf" -batch -notext \
		-keyfile "$dir/$ca.key" "$@" 2>"$work/openssl.log" || { cat "$work/openssl.log" >&2; return 1; }
}

# root NAME rsa|ec: self-signed CA certificate DIR/NAME.pem.
root() {
	newkey "$1" "$2"
	initca "$1"
	openssl req -config "$work/openssl.cnf" -new -key "$dir/$1.key" -subj "$SUBJ_PREFIX$1" -out "$work/$1.csr"
	runca "$1" -selfsign -in "$work/$1.csr" -out "$dir/$1.pem" -extensions v3_root \
		-startdate "$START" -enddate "$END"
}

# issue ISSUER NAME rsa|ec EXTENSIONS [START END]: DIR/NAME.pem issued by ISSUER.
issue() {
	local issuer=$1 name=$2 alg=$3 ext=$4 start=${5:-$START} end=${6:-$END}
	newkey "$name" "$alg"
	openssl req -config "$work/openssl.cnf" -new -key "$dir/$name.key" -subj "$SUBJ_PREFIX$name" -out "$work/$name.csr"
	runca "$issuer" -cert "$dir/$issuer.pem" -in "$work/$name.csr" -out "$dir/$name.pem" \
		-extensions "$ext" -startdate "$start" -enddate "$end"
}

# chain NAME CERTS...: DIR/NAME.chain.pem = DIR/NAME.pem then DIR/CERT.pem for each CERT.
chain() {
	local name=$1 c
	shift
	cat "$dir/$name.pem" >"$dir/$name.chain.pem"
	for c in "$@"; do cat "$dir/$c.pem" >>"$dir/$name.chain.pem"; done
}

# crl CA OUT: DIR/OUT.pem and DIR/OUT.der from CA's current index.
crl() {
	runca "$1" -cert "$dir/$1.pem" -gencrl -crlexts crl_ext -out "$dir/$2.pem"
	openssl crl -in "$dir/$2.pem" -outform DER -out "$dir/$2.der"
}

root root rsa
issue root intermediate rsa v3_intermediate
initca intermediate
issue intermediate leaf-rsa rsa v3_leaf
issue intermediate leaf-ec ec v3_leaf
issue intermediate leaf-expired ec v3_leaf "$START" 20250101000000Z
issue intermediate leaf-short ec v3_leaf "$START" "$(date -u -d '+1 day' +%Y%m%d%H%M%SZ)"
issue intermediate leaf-revoked ec v3_leaf_cdp
issue intermediate leaf-cdp ec v3_leaf_cdp
issue intermediate leaf-wrong-eku ec v3_leaf_wrong_eku
for leaf in leaf-rsa leaf-ec leaf-expired leaf-short leaf-revoked leaf-cdp leaf-wrong-eku; do
	chain "$leaf" intermediate root
done
crl intermediate crl-empty
runca intermediate -cert "$dir/intermediate.pem" -revoke "$dir/leaf-revoked.pem" -crl_reason keyCompromise
crl intermediate crl-revoked
crl root crl-root

root other-root ec
issue other-root leaf-untrusted ec v3_leaf
chain leaf-untrusted other-root

root sa-root ec
issue sa-root sa-leaf ec v3_leaf
issue sa-root sa-leaf-expired ec v3_leaf "$START" 20250101000000Z
chain sa-leaf sa-root
chain sa-leaf-expired sa-root

: >"$dir/subjects.txt"
for cert in "$dir"/*.pem; do
	case $cert in *.chain.pem | */crl-*) continue ;; esac
	name=$(basename "$cert" .pem)
	printf '%s\t%s\n' "$name" "$(openssl x509 -in "$cert" -noout -subject -nameopt RFC2253 |
		sed 's/^subject=//' | awk -F, '{for (i = NF; i > 0; i--) printf "%s%s", $i, (i > 1 ? ", " : "\n")}')" >>"$dir/subjects.txt"
done
rm -rf "$work"
echo "$dir"
