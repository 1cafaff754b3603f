// A registry with the OCI 1.1 referrers API for the test rig: go-containerregistry's
// pkg/registry (in-memory storage) with referrers support on, served with the rig's TLS
// certificate. Built by scripts/referrers-registry-bin.sh; started by scripts/rig.sh.
//
// What it does with referrers (checked against v0.22.1's pkg/registry/manifest.go):
// `GET /v2/<name>/referrers/<digest>` answers an OCI image index of every manifest whose
// `subject` is that digest, each descriptor's `artifactType` taken from the manifest's
// `config.mediaType` (not its `artifactType`), with the manifest's annotations; the
// `artifactType` query parameter is ignored and no `OCI-Filters-Applied` header is sent.
// A repository it has never seen answers 404 (NAME_UNKNOWN).
package main

import (
	"flag"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:5003", "address to listen on")
	cert := flag.String("tls-cert", "", "PEM certificate")
	key := flag.String("tls-key", "", "PEM private key")
	flag.Parse()
	if *cert == "" || *key == "" {
		log.Fatal("--tls-cert and --tls-key are required")
	}
	handler := registry.New(
		registry.WithReferrersSupport(true),
		registry.Logger(log.New(os.Stderr, "", log.LstdFlags)),
	)
	server := &http.Server{
		Addr:              *addr,
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
	}
	log.Printf("serving on https://%s", *addr)
	log.Fatal(server.ListenAndServeTLS(*cert, *key))
}
