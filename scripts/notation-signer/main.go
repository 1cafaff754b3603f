// notation-signer: the test peer that makes Notary Project signatures (Notation) with the Notary
// Project's own Go libraries (notation-go, notation-core-go, tspclient-go, oras-go). Built by
// scripts/notation-bin.sh; used by scripts/notation-vectors.sh and the webhook tests
// (webhook/tests/common/notation.rs).
//
//	notation-signer sign --key leaf.key --chain chain.pem --envelope jws|cose
//	    [--scheme notary.x509|notary.x509.signingAuthority] [--signing-time RFC3339] [--expiry 1h]
//	    [--tsa-url URL --tsa-root tsa-root.pem] [--signing-agent NAME] [--unchecked-chain]
//	    ( --reference host:port/repo@sha256:... [--ca-file ca.pem | --plain-http] [--tag-schema]
//	    | --descriptor-json '{"mediaType":...,"digest":...,"size":...}' --out envelope.bin )
//
// --reference resolves the manifest, signs its descriptor and pushes the signature with
// notation.Sign over notation-go's registry.NewRepository (an OCI image manifest with artifact
// type application/vnd.cncf.notary.signature whose subject is the signed manifest), through the
// OCI referrers API, or with --tag-schema through the referrers tag schema (the
// sha256-<hex> tag holding an OCI index; oras-go's SetReferrersCapability(false)). It prints the
// signature manifest's digest on stdout.
//
//	notation-signer verify --envelope-file F --envelope jws|cose --descriptor-json '{...}'
//	    --trust-policy policy.json --trust-store DIR [--crl-file crl.der] [--reference REF]
//	    [--skip-tsa-revocation]
//
// verify runs notation-go's verifier (verifier.NewVerifierWithOptions, revocation checked
// with notation-core-go's validator) over one envelope, at the real current time, and prints
// its outcome as JSON: {"verified":bool,"error":"...","results":[{"type","action","error"}]}.
// DIR holds truststore/x509/{ca,signingAuthority,tsa}/NAME/*.pem (notation's layout); the
// CRL of --crl-file answers every CRL distribution point URL (no network). It exits 0 whether
// or not the signature verified. --skip-tsa-revocation takes the timestamping chain as having
// no revocation information (real TSAs' certificates name OCSP/CRL servers out of reach).
// scripts/notation-vectors.sh and scripts/vectors-notation.sh use it to check cases.json.
//
//	notation-signer inspect --envelope-file F --envelope jws|cose
//
// inspect prints what an envelope holds, as JSON (parsed by notation-core-go without checking
// anything): the payload's targetArtifact, the signing scheme, signing time, expiry, the chain's
// subjects, validity and DER, and the timestamp's time if there is one.
//
// --out signs the descriptor of --descriptor-json and writes the envelope bytes; no registry.
//
// What notation's built-in signer (signer.GenericSigner) does not allow, and this one does:
//   - --signing-time: the signing time (io.cncf.notary.signingTime, or
//     io.cncf.notary.authenticSigningTime with the signingAuthority scheme); the built-in signer
//     always takes the clock. The chain must be valid at that time (notation-core-go checks).
//   - --scheme notary.x509.signingAuthority (the built-in signer always uses notary.x509).
//   - --unchecked-chain: notation-core-go refuses to sign with a chain that breaks the Notary
//     code-signing rules (wrong EKU, expired at the signing time, ...). With this flag the envelope
//     is made with a stand-in chain (an ephemeral root and a leaf certificate for the same public
//     key, so the signature is the same), then the x5c/x5chain of the unprotected header, which
//     the signature does not cover, is replaced by --chain. The result is what a careless signer
//     would publish.
package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"time"

	"github.com/notaryproject/notation-core-go/revocation"
	"github.com/notaryproject/notation-core-go/revocation/crl"
	"github.com/notaryproject/notation-core-go/revocation/purpose"
	"github.com/notaryproject/notation-core-go/revocation/result"
	"github.com/notaryproject/notation-core-go/signature"
	"github.com/notaryproject/notation-core-go/signature/cose"
	"github.com/notaryproject/notation-core-go/signature/jws"
	"github.com/notaryproject/notation-go"
	"github.com/notaryproject/notation-go/dir"
	"github.com/notaryproject/notation-go/registry"
	"github.com/notaryproject/notation-go/verifier"
	"github.com/notaryproject/notation-go/verifier/trustpolicy"
	"github.com/notaryproject/notation-go/verifier/truststore"
	"github.com/notaryproject/tspclient-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	gocose "github.com/veraison/go-cose"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
)

// The payload media type of Notary Project signatures (notation-go internal/envelope).
const mediaTypePayloadV1 = "application/vnd.cncf.notary.payload.v1+json"

const signingAgentDefault = "portieris-notation-signer (notation-go/1.3.2)"

func main() {
	var err error
	switch {
	case len(os.Args) >= 2 && os.Args[1] == "sign":
		err = runSign(os.Args[2:])
	case len(os.Args) >= 2 && os.Args[1] == "verify":
		err = runVerify(os.Args[2:])
	case len(os.Args) >= 2 && os.Args[1] == "inspect":
		err = runInspect(os.Args[2:])
	default:
		fmt.Fprintln(os.Stderr, "usage: notation-signer sign|verify [flags] (see the source's header comment, or -h)")
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "notation-signer:", err)
		os.Exit(1)
	}
}

func runSign(args []string) error {
	fs := flag.NewFlagSet("sign", flag.ExitOnError)
	keyPath := fs.String("key", "", "PEM private key of the leaf (PKCS#8, PKCS#1 or SEC1)")
	chainPath := fs.String("chain", "", "PEM certificates, leaf first, ending with the self-signed root")
	envelopeName := fs.String("envelope", "jws", "envelope format: jws or cose")
	scheme := fs.String("scheme", string(signature.SigningSchemeX509), "signing scheme: notary.x509 or notary.x509.signingAuthority")
	signingTimeS := fs.String("signing-time", "", "signing time, RFC 3339 (default now)")
	expiry := fs.Duration("expiry", 0, "signature expiry after the signing time (e.g. 1h; 0 = none)")
	tsaURL := fs.String("tsa-url", "", "RFC 3161 timestamp authority URL (timestamps the signature)")
	tsaRoot := fs.String("tsa-root", "", "PEM root certificate(s) of the timestamp authority")
	agent := fs.String("signing-agent", signingAgentDefault, "io.cncf.notary.signingAgent")
	unchecked := fs.Bool("unchecked-chain", false, "sign even if the chain breaks the Notary code-signing rules")
	reference := fs.String("reference", "", "host:port/repo@sha256:... (or :tag) to sign and push to")
	caFile := fs.String("ca-file", "", "PEM CA for the registry's TLS certificate")
	plainHTTP := fs.Bool("plain-http", false, "talk to the registry over plain HTTP")
	tagSchema := fs.Bool("tag-schema", false, "push with the referrers tag schema, not the referrers API")
	descriptorJSON := fs.String("descriptor-json", "", "OCI descriptor to sign (with --out)")
	out := fs.String("out", "", "write the envelope here instead of pushing")
	_ = fs.Parse(args)
	if fs.NArg() != 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}

	var mediaType string
	switch *envelopeName {
	case "jws":
		mediaType = jws.MediaTypeEnvelope
	case "cose":
		mediaType = cose.MediaTypeEnvelope
	default:
		return fmt.Errorf("--envelope %q: want jws or cose", *envelopeName)
	}
	s := &signer{
		scheme:    signature.SigningScheme(*scheme),
		agent:     *agent,
		unchecked: *unchecked,
	}
	if s.scheme != signature.SigningSchemeX509 && s.scheme != signature.SigningSchemeX509SigningAuthority {
		return fmt.Errorf("--scheme %q: want notary.x509 or notary.x509.signingAuthority", *scheme)
	}
	if *signingTimeS != "" {
		t, err := time.Parse(time.RFC3339, *signingTimeS)
		if err != nil {
			return fmt.Errorf("--signing-time: %w", err)
		}
		s.signingTime = t
	}
	var err error
	if s.key, s.chain, err = loadKeyAndChain(*keyPath, *chainPath); err != nil {
		return err
	}

	opts := notation.SignerSignOptions{
		SignatureMediaType: mediaType,
		ExpiryDuration:     *expiry,
		SigningAgent:       *agent,
	}
	if *tsaURL != "" {
		if *tsaRoot == "" {
			return errors.New("--tsa-url needs --tsa-root")
		}
		ts, err := tspclient.NewHTTPTimestamper(&http.Client{Timeout: 30 * time.Second}, *tsaURL)
		if err != nil {
			return err
		}
		pool, err := loadPool(*tsaRoot)
		if err != nil {
			return err
		}
		opts.Timestamper, opts.TSARootCAs = ts, pool
	}
	ctx := context.Background()

	if *out != "" {
		if *reference != "" {
			return errors.New("--out and --reference exclude each other")
		}
		if *descriptorJSON == "" {
			return errors.New("--out needs --descriptor-json")
		}
		var desc ocispec.Descriptor
		if err := json.Unmarshal([]byte(*descriptorJSON), &desc); err != nil {
			return fmt.Errorf("--descriptor-json: %w", err)
		}
		if desc.MediaType == "" || desc.Digest == "" || desc.Size == 0 {
			return errors.New("--descriptor-json needs mediaType, digest and size")
		}
		env, _, err := s.Sign(ctx, desc, opts)
		if err != nil {
			return err
		}
		return os.WriteFile(*out, env, 0o644)
	}
	if *reference == "" {
		return errors.New("need --reference or --out")
	}

	repo, err := remote.NewRepository(*reference)
	if err != nil {
		return fmt.Errorf("--reference: %w", err)
	}
	repo.PlainHTTP = *plainHTTP
	transport := http.DefaultTransport.(*http.Transport).Clone()
	if *caFile != "" {
		pool, err := loadPool(*caFile)
		if err != nil {
			return err
		}
		transport.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	repo.Client = &auth.Client{Client: &http.Client{Transport: transport, Timeout: 60 * time.Second}}
	if *tagSchema {
		if err := repo.SetReferrersCapability(false); err != nil {
			return err
		}
	}
	rec := &recordingRepository{Repository: registry.NewRepository(repo)}
	if _, err := notation.Sign(ctx, s, rec, notation.SignOptions{
		SignerSignOptions: opts,
		ArtifactReference: *reference,
	}); err != nil {
		return err
	}
	fmt.Println(rec.pushed.Digest.String())
	return nil
}

// recordingRepository remembers the signature manifest that notation.Sign pushed.
type recordingRepository struct {
	registry.Repository
	pushed ocispec.Descriptor
}

func (r *recordingRepository) PushSignature(ctx context.Context, mediaType string, blob []byte, subject ocispec.Descriptor, annotations map[string]string) (ocispec.Descriptor, ocispec.Descriptor, error) {
	blobDesc, manifestDesc, err := r.Repository.PushSignature(ctx, mediaType, blob, subject, annotations)
	r.pushed = manifestDesc
	return blobDesc, manifestDesc, err
}

// signer is notation-go's signer.GenericSigner (v1.3.2, signer/signer.go) with the signing
// time, the scheme and the chain check under the caller's control.
type signer struct {
	key         crypto.PrivateKey
	chain       []*x509.Certificate
	scheme      signature.SigningScheme
	signingTime time.Time // zero: now
	agent       string
	unchecked   bool
}

func (s *signer) Sign(ctx context.Context, desc ocispec.Descriptor, opts notation.SignerSignOptions) ([]byte, *signature.SignerInfo, error) {
	// The payload exactly as notation-go's built-in signer writes it.
	payload := struct {
		TargetArtifact ocispec.Descriptor `json:"targetArtifact"`
	}{ocispec.Descriptor{
		MediaType:   desc.MediaType,
		Digest:      desc.Digest,
		Size:        desc.Size,
		Annotations: desc.Annotations,
	}}
	payloadBytes, err := json.Marshal(payload)
	if err != nil {
		return nil, nil, err
	}
	signWith := s.chain
	if s.unchecked {
		if signWith, err = standInChain(s.chain[0]); err != nil {
			return nil, nil, fmt.Errorf("stand-in chain: %w", err)
		}
	}
	local, err := signature.NewLocalSigner(signWith, s.key)
	if err != nil {
		return nil, nil, err
	}
	signingTime := s.signingTime
	if signingTime.IsZero() {
		signingTime = time.Now()
	}
	req := &signature.SignRequest{
		Payload:       signature.Payload{ContentType: mediaTypePayloadV1, Content: payloadBytes},
		Signer:        local,
		SigningTime:   signingTime,
		SigningScheme: s.scheme,
		SigningAgent:  opts.SigningAgent,
		Timestamper:   opts.Timestamper,
		TSARootCAs:    opts.TSARootCAs,
	}
	if opts.ExpiryDuration != 0 {
		req.Expiry = signingTime.Add(opts.ExpiryDuration)
	}
	req = req.WithContext(ctx)
	env, err := signature.NewEnvelope(opts.SignatureMediaType)
	if err != nil {
		return nil, nil, err
	}
	sig, err := env.Sign(req)
	if err != nil {
		return nil, nil, err
	}
	// Check what we made (the signature, against the leaf of the chain it carries) and hand
	// notation.Sign the signer info (the signature manifest's chain thumbprint and created
	// annotations come from it), as the built-in signer does.
	parsed, err := signature.ParseEnvelope(opts.SignatureMediaType, sig)
	if err != nil {
		return nil, nil, err
	}
	content, err := parsed.Verify()
	if err != nil {
		return nil, nil, fmt.Errorf("generated signature failed verification: %w", err)
	}
	if s.unchecked {
		// The stand-in leaf has the same key, so the signature stays good with s.chain.
		if sig, err = replaceChain(opts.SignatureMediaType, sig, s.chain); err != nil {
			return nil, nil, fmt.Errorf("replacing the chain: %w", err)
		}
		content.SignerInfo.CertificateChain = s.chain
	}
	return sig, &content.SignerInfo, nil
}

// standInChain: an ephemeral self-signed root and a code-signing leaf for leaf's public key,
// valid from 1970 to 9999 so that any signing time passes notation-core-go's checks.
func standInChain(leaf *x509.Certificate) ([]*x509.Certificate, error) {
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	notBefore := time.Unix(0, 0).UTC()
	notAfter := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
	rootTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "notation-signer stand-in root"},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, &rootKey.PublicKey, rootKey)
	if err != nil {
		return nil, err
	}
	root, err := x509.ParseCertificate(rootDER)
	if err != nil {
		return nil, err
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "notation-signer stand-in leaf"},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, root, leaf.PublicKey, rootKey)
	if err != nil {
		return nil, err
	}
	standIn, err := x509.ParseCertificate(leafDER)
	if err != nil {
		return nil, err
	}
	return []*x509.Certificate{standIn, root}, nil
}

// replaceChain swaps the certificate chain in the unprotected header of an envelope (JWS
// header.x5c, COSE label 33 x5chain); neither is covered by the signature.
func replaceChain(mediaType string, env []byte, chain []*x509.Certificate) ([]byte, error) {
	switch mediaType {
	case jws.MediaTypeEnvelope:
		var doc map[string]json.RawMessage
		if err := json.Unmarshal(env, &doc); err != nil {
			return nil, err
		}
		var header map[string]any
		if err := json.Unmarshal(doc["header"], &header); err != nil {
			return nil, err
		}
		x5c := make([][]byte, len(chain))
		for i, c := range chain {
			x5c[i] = c.Raw
		}
		header["x5c"] = x5c
		raw, err := json.Marshal(header)
		if err != nil {
			return nil, err
		}
		doc["header"] = raw
		return json.Marshal(doc)
	case cose.MediaTypeEnvelope:
		var msg gocose.Sign1Message
		if err := msg.UnmarshalCBOR(env); err != nil {
			return nil, err
		}
		x5c := make([]any, len(chain))
		for i, c := range chain {
			x5c[i] = c.Raw
		}
		msg.Headers.Unprotected[gocose.HeaderLabelX5Chain] = x5c
		msg.Headers.RawUnprotected = nil
		return msg.MarshalCBOR()
	}
	return nil, fmt.Errorf("media type %q", mediaType)
}

func loadKeyAndChain(keyPath, chainPath string) (crypto.PrivateKey, []*x509.Certificate, error) {
	if keyPath == "" || chainPath == "" {
		return nil, nil, errors.New("--key and --chain are required")
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, nil, err
	}
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return nil, nil, fmt.Errorf("%s: no PEM block", keyPath)
	}
	var key crypto.PrivateKey
	if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		key = k
	} else if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		key = k
	} else if k, err := x509.ParseECPrivateKey(block.Bytes); err == nil {
		key = k
	} else {
		return nil, nil, fmt.Errorf("%s: not a PKCS#8, PKCS#1 or SEC1 private key", keyPath)
	}
	switch key.(type) {
	case *rsa.PrivateKey, *ecdsa.PrivateKey:
	default:
		return nil, nil, fmt.Errorf("%s: want an RSA or ECDSA key, got %T", keyPath, key)
	}
	chain, err := loadCerts(chainPath)
	if err != nil {
		return nil, nil, err
	}
	return key, chain, nil
}

func loadCerts(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s: no certificates", path)
	}
	return certs, nil
}

func loadPool(path string) (*x509.CertPool, error) {
	certs, err := loadCerts(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}

func runVerify(args []string) error {
	fs := flag.NewFlagSet("verify", flag.ExitOnError)
	envelopeFile := fs.String("envelope-file", "", "the envelope")
	envelopeName := fs.String("envelope", "jws", "envelope format: jws or cose")
	descriptorJSON := fs.String("descriptor-json", "", "the OCI descriptor the signature must sign")
	policyPath := fs.String("trust-policy", "", "Notary trust policy JSON (version 1.0)")
	storeDir := fs.String("trust-store", "", "directory holding truststore/x509/<type>/<name>/*.pem")
	crlFile := fs.String("crl-file", "", "DER CRL served for every CRL distribution point")
	reference := fs.String("reference", "registry.example/test/app", "artifact reference (repository) the policy is matched against")
	skipTSARevocation := fs.Bool("skip-tsa-revocation", false, "take the timestamping chain as not revocable (offline checks of real TSAs' tokens)")
	_ = fs.Parse(args)
	mediaType := jws.MediaTypeEnvelope
	if *envelopeName == "cose" {
		mediaType = cose.MediaTypeEnvelope
	}
	env, err := os.ReadFile(*envelopeFile)
	if err != nil {
		return err
	}
	var desc ocispec.Descriptor
	if err := json.Unmarshal([]byte(*descriptorJSON), &desc); err != nil {
		return fmt.Errorf("--descriptor-json: %w", err)
	}
	policyJSON, err := os.ReadFile(*policyPath)
	if err != nil {
		return err
	}
	var policy trustpolicy.Document
	if err := json.Unmarshal(policyJSON, &policy); err != nil {
		return fmt.Errorf("%s: %w", *policyPath, err)
	}
	var fetcher crl.Fetcher = noCRL{}
	if *crlFile != "" {
		der, err := os.ReadFile(*crlFile)
		if err != nil {
			return err
		}
		parsed, err := x509.ParseRevocationList(der)
		if err != nil {
			return fmt.Errorf("%s: %w", *crlFile, err)
		}
		fetcher = fixedCRL{&crl.Bundle{BaseCRL: parsed}}
	}
	codeSigning, err := revocation.NewWithOptions(revocation.Options{CRLFetcher: fetcher, CertChainPurpose: purpose.CodeSigning})
	if err != nil {
		return err
	}
	var timestamping revocation.Validator = notRevocable{}
	if !*skipTSARevocation {
		if timestamping, err = revocation.NewWithOptions(revocation.Options{CRLFetcher: fetcher, CertChainPurpose: purpose.Timestamping}); err != nil {
			return err
		}
	}
	v, err := verifier.NewWithOptions(&policy, truststore.NewX509TrustStore(dir.NewSysFS(*storeDir)), nil, verifier.VerifierOptions{
		RevocationCodeSigningValidator:  codeSigning,
		RevocationTimestampingValidator: timestamping,
	})
	if err != nil {
		return err
	}
	outcome, verr := v.Verify(context.Background(), desc, env, notation.VerifierVerifyOptions{
		ArtifactReference:  *reference + "@" + desc.Digest.String(),
		SignatureMediaType: mediaType,
	})
	type result struct {
		Type   string `json:"type"`
		Action string `json:"action"`
		Error  string `json:"error,omitempty"`
	}
	report := struct {
		Verified bool     `json:"verified"`
		Error    string   `json:"error,omitempty"`
		Results  []result `json:"results"`
	}{Verified: verr == nil, Results: []result{}}
	if verr != nil {
		report.Error = verr.Error()
	}
	if outcome != nil {
		for _, r := range outcome.VerificationResults {
			res := result{Type: string(r.Type), Action: string(r.Action)}
			if r.Error != nil {
				res.Error = r.Error.Error()
			}
			report.Results = append(report.Results, res)
		}
	}
	out, err := json.Marshal(report)
	if err != nil {
		return err
	}
	fmt.Println(string(out))
	return nil
}

// notRevocable answers every certificate as having no revocation information.
type notRevocable struct{}

func (notRevocable) ValidateContext(_ context.Context, opts revocation.ValidateContextOptions) ([]*result.CertRevocationResult, error) {
	out := make([]*result.CertRevocationResult, len(opts.CertChain))
	for i := range out {
		out[i] = &result.CertRevocationResult{Result: result.ResultNonRevokable}
	}
	return out, nil
}

// noCRL: no CRL is reachable (every distribution point fails).
type noCRL struct{}

func (noCRL) Fetch(_ context.Context, url string) (*crl.Bundle, error) {
	return nil, fmt.Errorf("no CRL for %s (verify --crl-file not given)", url)
}

// fixedCRL answers every distribution point with one CRL.
type fixedCRL struct{ bundle *crl.Bundle }

func (f fixedCRL) Fetch(context.Context, string) (*crl.Bundle, error) { return f.bundle, nil }

func runInspect(args []string) error {
	fs := flag.NewFlagSet("inspect", flag.ExitOnError)
	envelopeFile := fs.String("envelope-file", "", "the envelope")
	envelopeName := fs.String("envelope", "jws", "envelope format: jws or cose")
	_ = fs.Parse(args)
	mediaType := jws.MediaTypeEnvelope
	if *envelopeName == "cose" {
		mediaType = cose.MediaTypeEnvelope
	}
	raw, err := os.ReadFile(*envelopeFile)
	if err != nil {
		return err
	}
	env, err := signature.ParseEnvelope(mediaType, raw)
	if err != nil {
		return err
	}
	content, err := env.Content()
	if err != nil {
		return err
	}
	var payload struct {
		TargetArtifact ocispec.Descriptor `json:"targetArtifact"`
	}
	if err := json.Unmarshal(content.Payload.Content, &payload); err != nil {
		return fmt.Errorf("payload: %w", err)
	}
	type cert struct {
		Subject   string    `json:"subject"`
		NotBefore time.Time `json:"notBefore"`
		NotAfter  time.Time `json:"notAfter"`
		DER       []byte    `json:"der"`
	}
	info := content.SignerInfo
	report := struct {
		TargetArtifact ocispec.Descriptor `json:"targetArtifact"`
		ContentType    string             `json:"contentType"`
		SigningScheme  string             `json:"signingScheme"`
		SigningTime    time.Time          `json:"signingTime"`
		Expiry         *time.Time         `json:"expiry,omitempty"`
		Algorithm      int                `json:"signatureAlgorithm"`
		SigningAgent   string             `json:"signingAgent,omitempty"`
		Chain          []cert             `json:"chain"`
		Timestamp      *time.Time         `json:"timestamp,omitempty"`
	}{
		TargetArtifact: payload.TargetArtifact,
		ContentType:    content.Payload.ContentType,
		SigningScheme:  string(info.SignedAttributes.SigningScheme),
		SigningTime:    info.SignedAttributes.SigningTime,
		Algorithm:      int(info.SignatureAlgorithm),
		SigningAgent:   info.UnsignedAttributes.SigningAgent,
		Chain:          []cert{},
	}
	if !info.SignedAttributes.Expiry.IsZero() {
		report.Expiry = &info.SignedAttributes.Expiry
	}
	for _, c := range info.CertificateChain {
		report.Chain = append(report.Chain, cert{c.Subject.String(), c.NotBefore, c.NotAfter, c.Raw})
	}
	if len(info.UnsignedAttributes.TimestampSignature) > 0 {
		token, err := tspclient.ParseSignedToken(info.UnsignedAttributes.TimestampSignature)
		if err != nil {
			return fmt.Errorf("timestamp: %w", err)
		}
		tst, err := token.Info()
		if err != nil {
			return fmt.Errorf("timestamp: %w", err)
		}
		t := tst.GenTime
		report.Timestamp = &t
	}
	out, err := json.MarshalIndent(report, "", "  ")
	if err != nil {
		return err
	}
	fmt.Println(string(out))
	return nil
}
