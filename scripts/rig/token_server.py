#!/usr/bin/env python3
"""Docker registry token server for the test rig (loopback only, stdlib + openssl CLI).

Issues JWTs in the format docker/distribution's `registry/auth/token` verifies
(used by notary-server `auth.type: token` and docker-registry `auth.token`):

  header  {"typ":"JWT","alg":"RS256","x5c":[<base64 DER of the signing cert>]}
  claims  {"iss","sub","aud","exp","nbf","iat","jti","access":[{"type","name","actions"}]}

The signing cert is self-signed and is the `rootcertbundle` of the services, so
the x5c chain verifies against it. Signatures are made by `openssl dgst -sha256
-sign` (RSASSA-PKCS1-v1_5 = RS256), so no third-party Python package is needed.

Endpoints:
  GET  /token?service=S&scope=repository:NAME:pull,push[&scope=...]
       Basic auth optional. Anonymous callers get a token with an empty access
       list (as Docker Hub does); wrong credentials get 401.
  POST /token  form: grant_type=password&username=U&password=P&service=S&scope=...
               or    grant_type=refresh_token&refresh_token=R&service=S&scope=...
       (the OAuth2 flow of the distribution client).
  GET  /health -> 200 "ok"
  GET  /requests -> JSON list of the requests served so far (for tests).

Every request is also logged to stderr as one JSON line.
"""

import argparse
import base64
import http.server
import json
import os
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse

REQUESTS = []
REQUESTS_LOCK = threading.Lock()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def parse_scope(scope: str):
    """`repository:127.0.0.1:5000/test/app:pull,push` -> ("repository", name, [actions]).

    The name may itself contain ':' (host:port), so split on the first and last ':'."""
    first = scope.find(":")
    last = scope.rfind(":")
    if first < 0 or last <= first:
        return None
    typ = scope[:first]
    name = scope[first + 1 : last]
    actions = [a for a in scope[last + 1 :].split(",") if a]
    if not typ or not name:
        return None
    return typ, name, actions


class Issuer:
    def __init__(self, key_path, cert_der, issuer, user, password, ttl):
        self.key_path = key_path
        self.x5c = base64.b64encode(cert_der).decode("ascii")
        self.issuer = issuer
        self.user = user
        self.password = password
        self.ttl = ttl
        self.refresh_token = "refresh-" + b64url(os.urandom(18))

    def sign(self, data: bytes) -> bytes:
        out = subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", self.key_path],
            input=data,
            capture_output=True,
            check=True,
        )
        return out.stdout

    def token(self, subject, service, scopes, authenticated):
        now = int(time.time())
        access = []
        if authenticated:
            for scope in scopes:
                parsed = parse_scope(scope)
                if parsed is None:
                    continue
                typ, name, actions = parsed
                granted = [a for a in actions if a in ("pull", "push", "*")]
                access.append({"type": typ, "name": name, "actions": granted})
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]}
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "aud": service,
            "exp": now + self.ttl,
            "nbf": now - 1,
            "iat": now,
            "jti": b64url(os.urandom(12)),
            "access": access,
        }
        signing_input = (
            b64url(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + b64url(json.dumps(claims, separators=(",", ":")).encode())
        )
        signature = self.sign(signing_input.encode("ascii"))
        return signing_input + "." + b64url(signature), now, access


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "portieris-rig-token/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet default logging; we log JSON lines
        pass

    def _record(self, status, info):
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "method": self.command,
            "path": self.path,
            "status": status,
        }
        entry.update(info)
        with REQUESTS_LOCK:
            REQUESTS.append(entry)
            del REQUESTS[:-1000]
        sys.stderr.write(json.dumps(entry) + "\n")
        sys.stderr.flush()

    def _send(self, status, body, content_type="application/json", headers=None):
        data = body if isinstance(body, bytes) else body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _unauthorized(self, info):
        self._record(401, info)
        body = json.dumps(
            {"errors": [{"code": "UNAUTHORIZED", "message": "incorrect username or password"}]}
        )
        self._send(401, body, headers={"WWW-Authenticate": 'Basic realm="portieris-rig"'})

    def _issue(self, params, user, password, anonymous_ok, extra=None):
        iss: Issuer = self.server.issuer
        service = params.get("service", [""])[0]
        scopes = []
        for s in params.get("scope", []):
            scopes.extend(s.split(" "))
        scopes = [s for s in scopes if s]
        info = {"service": service, "scope": scopes, "user": user}
        if user is None:
            if not anonymous_ok:
                return self._unauthorized(info)
            authenticated = False
            subject = ""
        elif user == iss.user and password == iss.password:
            authenticated = True
            subject = user
        else:
            return self._unauthorized(info)
        token, now, access = iss.token(subject, service, scopes, authenticated)
        body = {
            "token": token,
            "access_token": token,
            "expires_in": iss.ttl,
            "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
        }
        if extra:
            body.update(extra)
        info["granted"] = access
        self._record(200, info)
        self._send(200, json.dumps(body))

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/health":
            self._send(200, "ok\n", "text/plain")
            return
        if url.path == "/requests":
            with REQUESTS_LOCK:
                body = json.dumps(REQUESTS)
            self._send(200, body)
            return
        if url.path != "/token":
            self._record(404, {})
            self._send(404, json.dumps({"errors": [{"code": "NOT_FOUND"}]}))
            return
        params = urllib.parse.parse_qs(url.query)
        user = password = None
        auth = self.headers.get("Authorization", "")
        if auth.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(auth[6:].strip()).decode("utf-8")
                user, _, password = decoded.partition(":")
            except (ValueError, UnicodeDecodeError):
                return self._unauthorized({"error": "bad basic auth"})
        self._issue(params, user, password, anonymous_ok=True)

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path != "/token":
            self._record(404, {})
            self._send(404, json.dumps({"errors": [{"code": "NOT_FOUND"}]}))
            return
        length = int(self.headers.get("Content-Length", "0") or "0")
        if length > 65536:
            self._send(413, "{}")
            return
        raw = self.rfile.read(length).decode("utf-8", "replace")
        params = urllib.parse.parse_qs(raw)
        grant = params.get("grant_type", [""])[0]
        iss: Issuer = self.server.issuer
        if grant == "password":
            user = params.get("username", [""])[0]
            password = params.get("password", [""])[0]
            extra = {"refresh_token": iss.refresh_token}
            if params.get("access_type", [""])[0] != "offline":
                extra = {}
            self._issue(params, user, password, anonymous_ok=False, extra=extra)
        elif grant == "refresh_token":
            if params.get("refresh_token", [""])[0] == iss.refresh_token:
                self._issue(params, iss.user, iss.password, anonymous_ok=False,
                            extra={"refresh_token": iss.refresh_token})
            else:
                self._unauthorized({"error": "bad refresh token"})
        else:
            self._record(400, {"error": "unsupported grant_type", "grant_type": grant})
            self._send(400, json.dumps({"error": "unsupported_grant_type"}))


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--addr", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=5001)
    ap.add_argument("--tls-cert", required=True)
    ap.add_argument("--tls-key", required=True)
    ap.add_argument("--signing-key", required=True, help="PEM private key (RSA)")
    ap.add_argument("--signing-cert", required=True, help="PEM cert of the signing key")
    ap.add_argument("--issuer", default="portieris-rig")
    ap.add_argument("--user", default="portieris")
    ap.add_argument("--password", default="s3cret")
    ap.add_argument("--ttl", type=int, default=300)
    args = ap.parse_args()

    with open(args.signing_cert, "rb") as f:
        cert_der = ssl.PEM_cert_to_DER_cert(f.read().decode("ascii"))
    issuer = Issuer(args.signing_key, cert_der, args.issuer, args.user, args.password, args.ttl)

    httpd = Server((args.addr, args.port), Handler)
    httpd.issuer = issuer
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.tls_cert, args.tls_key)
    # Handshake in the handler thread, so one stalled client cannot block accept().
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True, do_handshake_on_connect=False)
    sys.stderr.write(f"token server listening on https://{args.addr}:{args.port}/token\n")
    sys.stderr.flush()
    httpd.serve_forever()


if __name__ == "__main__":
    main()
