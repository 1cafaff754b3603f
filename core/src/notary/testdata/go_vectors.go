// Run by regen.sh (as main.go in a scratch module). Generates vectors for portieris-core's notary tests with notary's own Go code:
// canonical JSON (github.com/docker/go/canonical/json) and key IDs (notary tuf/data, tuf/utils).
package main

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	stdjson "encoding/json"
	"encoding/pem"
	"os"
	"time"

	canonical "github.com/docker/go/canonical/json"
	"github.com/theupdateframework/notary/tuf/data"
	"github.com/theupdateframework/notary/tuf/utils"
)

type canonCase struct {
	Input     string `json:"input"`
	Canonical string `json:"canonical_base64,omitempty"`
	Error     bool   `json:"error,omitempty"`
}

type keyCase struct {
	Name    string `json:"name"`
	Keytype string `json:"keytype"`
	Public  string `json:"public_base64"`
	ID      string `json:"id"`
	PinPEM  string `json:"pin_pem,omitempty"`
	PinID   string `json:"pin_id,omitempty"`
}

var inputs = []string{
	`null`, `true`, `false`, `0`, `-1`, `42`, `""`, `[]`, `{}`,
	`{"b":1,"a":2,"_":3,"A":4,"aa":5,"a_":6,"é":7,"z":8,"~":9}`,
	`{"nested":{"z":[3,2,1],"a":{"y":null,"x":true}},"list":[{"b":1,"a":2},[],{}]}`,
	`{"quote":"\"","backslash":"\\","slash":"/","escaped_slash":"\/"}`,
	`{"controls":"\u0000\u0001\b\f\n\r\t\u001f\u007f"}`,
	`{"html":"<script>&amp;</script>","separators":"\u2028\u2029"}`,
	`{"unicode":"é ü 中文 😀","escaped":"\u00e9\ud83d\ude00"}`,
	`{"dup":1,"dup":2}`,
	`{"floats":[1.0,1e3,-0.0,1E2,2.50e1]}`,
	`{"big":9007199254740992,"neg":-9007199254740992}`,
	`{"fraction":1.5}`,
	`{"expo":1e-3}`,
	"{ \"space\" : [ 1 , 2 ] ,\n\t\"x\" : { } }",
	`{"_type":"Targets","delegations":{"keys":{},"roles":[]},"expires":"2029-01-01T00:00:00.5Z","targets":{"v1":{"hashes":{"sha256":"AAAA"},"length":1234}},"version":3}`,
}

func pemOf(kind string, der []byte, headers map[string]string) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: kind, Headers: headers, Bytes: der}))
}

func check(err error) {
	if err != nil {
		panic(err)
	}
}

func cert(cn string, pub, priv interface{}) []byte {
	start := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	end := time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC)
	template, err := utils.NewCertificate(cn, start, end)
	check(err)
	der, err := x509.CreateCertificate(rand.Reader, template, template, pub, priv)
	check(err)
	return der
}

func main() {
	var canon []canonCase
	for _, in := range inputs {
		var value interface{}
		check(canonical.Unmarshal([]byte(in), &value))
		out, err := canonical.MarshalCanonical(value)
		if err != nil {
			canon = append(canon, canonCase{Input: in, Error: true})
			continue
		}
		canon = append(canon, canonCase{Input: in, Canonical: base64.StdEncoding.EncodeToString(out)})
	}

	var keys []keyCase
	add := func(name string, key data.PublicKey, pin string) {
		c := keyCase{Name: name, Keytype: key.Algorithm(), Public: base64.StdEncoding.EncodeToString(key.Public()), ID: key.ID()}
		if pin != "" {
			pinned, err := utils.ParsePEMPublicKey([]byte(pin))
			check(err)
			c.PinPEM, c.PinID = pin, pinned.ID()
		}
		keys = append(keys, c)
	}

	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	check(err)
	ecDER, err := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	check(err)
	add("ecdsa signer (docker key with role header)", data.NewPublicKey(data.ECDSAKey, ecDER),
		pemOf("PUBLIC KEY", ecDER, map[string]string{"role": "alice"}))

	rootDER := cert("127.0.0.1:5000/test/app", &ec.PublicKey, ec)
	rootPEM := pemOf("CERTIFICATE", rootDER, nil)
	add("ecdsa-x509 root certificate", data.NewPublicKey(data.ECDSAx509Key, []byte(rootPEM)), rootPEM)

	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	check(err)
	rsaDER, err := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	check(err)
	add("rsa signer", data.NewPublicKey(data.RSAKey, rsaDER), pemOf("PUBLIC KEY", rsaDER, nil))
	bobDER := cert("bob", &rsaKey.PublicKey, rsaKey)
	bobPEM := pemOf("CERTIFICATE", bobDER, nil)
	add("rsa-x509 signer certificate", data.NewPublicKey(data.RSAx509Key, []byte(bobPEM)), bobPEM)

	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	check(err)
	add("ed25519 timestamp key", data.NewPublicKey(data.ED25519Key, edPub), "")

	out, err := stdjson.MarshalIndent(map[string]interface{}{
		"generator":      "core/src/notary/testdata/regen.sh (docker/go canonical/json, notary v0.7.0)",
		"canonical_json": canon,
		"keys":           keys,
	}, "", "  ")
	check(err)
	os.Stdout.Write(append(out, '\n'))
}
