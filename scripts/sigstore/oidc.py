#!/usr/bin/env python3
"""A loopback OpenID Connect issuer for Fulcio (Python stdlib; RS256 signing with the openssl CLI).

Two issuers share one HTTP server and one RSA key:

  http://HOST:PORT          an "email" issuer: ID tokens with sub, email, email_verified
  http://HOST:PORT/github   a GitHub-Actions-like issuer: the claims Fulcio's github-workflow
                            type requires (repository, workflow_ref, job_workflow_ref, sha, ...)

Each serves /.well-known/openid-configuration and /jwks, and mints tokens at /token:

  GET /token?sub=...&email=...&aud=...&ttl=...
  GET /github/token?repository=owner/repo&workflow_ref=...&ref=...&sha=...&aud=...&ttl=...

Any query parameter overrides (or adds) the claim of that name; aud defaults to "sigstore",
ttl (seconds) to 600. The answer is the bare JWT (text/plain).

  oidc.py --key KEY.pem --host 127.0.0.1 --port 5551 [--public-url http://127.0.0.1:5551]
"""
import argparse
import base64
import json
import subprocess
import sys
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def rsa_jwk(key_path: str, kid: str) -> dict:
    out = subprocess.run(
        ["openssl", "rsa", "-in", key_path, "-noout", "-modulus"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    modulus = bytes.fromhex(out.split("=", 1)[1])
    text = subprocess.run(
        ["openssl", "rsa", "-in", key_path, "-noout", "-text"],
        check=True, capture_output=True, text=True,
    ).stdout
    exponent = int(text.split("publicExponent:")[1].split()[0])
    e = exponent.to_bytes((exponent.bit_length() + 7) // 8, "big")
    return {"kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid, "n": b64url(modulus), "e": b64url(e)}


def github_claims(issuer: str, now: int, params: dict) -> dict:
    repo = params.get("repository", "portieris-test/app")
    owner = repo.split("/", 1)[0]
    ref = params.get("ref", "refs/heads/main")
    sha = params.get("sha", "0123456789abcdef0123456789abcdef01234567")
    workflow_path = params.get("workflow_path", ".github/workflows/release.yml")
    workflow_ref = params.get("workflow_ref", f"{repo}/{workflow_path}@{ref}")
    return {
        "iss": issuer,
        "sub": f"repo:{repo}:ref:{ref}",
        "aud": "sigstore",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": str(uuid.uuid4()),
        "ref": ref,
        "sha": sha,
        "repository": repo,
        "repository_id": "1000001",
        "repository_owner": owner,
        "repository_owner_id": "2000002",
        "repository_visibility": "public",
        "run_id": "3000003",
        "run_number": "7",
        "run_attempt": "1",
        "actor": owner,
        "actor_id": "2000002",
        "event_name": "push",
        "ref_type": "branch",
        "workflow": "release",
        "workflow_ref": workflow_ref,
        "workflow_sha": sha,
        "job_workflow_ref": params.get("job_workflow_ref", workflow_ref),
        "job_workflow_sha": sha,
        "runner_environment": "github-hosted",
    }


class Issuer:
    def __init__(self, key_path: str, public_url: str):
        self.key_path = key_path
        self.public_url = public_url.rstrip("/")
        self.kid = "portieris-sigstore-oidc"
        self.jwks = {"keys": [rsa_jwk(key_path, self.kid)]}

    def sign(self, claims: dict) -> str:
        header = {"alg": "RS256", "typ": "JWT", "kid": self.kid}
        signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
        sig = subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", self.key_path],
            input=signing_input.encode(), check=True, capture_output=True,
        ).stdout
        return f"{signing_input}.{b64url(sig)}"

    def token(self, kind: str, params: dict) -> str:
        now = int(time.time())
        ttl = int(params.pop("ttl", "600"))
        if kind == "github":
            claims = github_claims(self.public_url + "/github", now, params)
            for k in ("workflow_path",):
                params.pop(k, None)
        else:
            sub = params.get("sub", "signer@portieris.test")
            claims = {
                "iss": self.public_url,
                "sub": sub,
                "aud": "sigstore",
                "iat": now,
                "nbf": now,
                "exp": now + ttl,
                "jti": str(uuid.uuid4()),
                "email": params.get("email", sub if "@" in sub else "signer@portieris.test"),
                "email_verified": True,
            }
        claims["exp"] = now + ttl
        for k, v in params.items():
            if k == "email_verified":
                claims[k] = v.lower() == "true"
            else:
                claims[k] = v
        return self.sign(claims)

    def discovery(self, base: str) -> dict:
        return {
            "issuer": base,
            "jwks_uri": base + "/jwks",
            "authorization_endpoint": base + "/authorize",
            "token_endpoint": base + "/token",
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email"],
            "claims_supported": ["iss", "sub", "aud", "exp", "iat", "email", "email_verified"],
        }


def make_handler(issuer: Issuer):
    class Handler(BaseHTTPRequestHandler):
        def reply(self, code: int, body, ctype="application/json"):
            data = body if isinstance(body, bytes) else (
                json.dumps(body).encode() if ctype == "application/json" else body.encode())
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            url = urlsplit(self.path)
            path = url.path
            kind, base = "email", issuer.public_url
            if path == "/github" or path.startswith("/github/"):
                kind, base = "github", issuer.public_url + "/github"
                path = path[len("/github"):] or "/"
            if path == "/.well-known/openid-configuration":
                self.reply(200, issuer.discovery(base))
            elif path == "/jwks":
                self.reply(200, issuer.jwks)
            elif path == "/token":
                try:
                    tok = issuer.token(kind, dict(parse_qsl(url.query)))
                except (ValueError, subprocess.CalledProcessError) as e:
                    self.reply(400, {"error": str(e)})
                    return
                self.reply(200, tok, "text/plain")
            elif path == "/healthz":
                self.reply(200, {"ok": True})
            else:
                self.reply(404, {"error": "not found"})

        def log_message(self, fmt, *args):
            sys.stderr.write("oidc: %s %s\n" % (self.address_string(), fmt % args))

    return Handler


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--key", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--public-url")
    a = ap.parse_args()
    issuer = Issuer(a.key, a.public_url or f"http://{a.host}:{a.port}")
    ThreadingHTTPServer((a.host, a.port), make_handler(issuer)).serve_forever()


if __name__ == "__main__":
    main()
