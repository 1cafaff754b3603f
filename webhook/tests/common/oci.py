#!/usr/bin/env python3
"""A minimal OCI distribution client for the referrers tests, pushing the way OCI clients
(oras, cosign, crane) do: a blob by a monolithic upload (POST /v2/<repo>/blobs/uploads/, then
PUT <location>&digest=…), a manifest by PUT /v2/<repo>/manifests/<tag or digest>; and a raw GET
that prints status, headers and body, to see what a registry answers.

    oci.py CA_FILE < requests.json > answers.json

requests.json is a list of
    {"op": "blob", "registry": "127.0.0.1:5000", "repo": "test/x", "data": "<base64>"}
    {"op": "manifest", "registry": …, "repo": …, "reference": "v1", "media_type": …, "data": "<base64>"}
    {"op": "get", "url": "https://…", "accept": "…"}
answered in order with {"digest": "sha256:…", "status": N, "headers": {…}} (get: and "body"
as text). Any unexpected status fails the whole run, with the registry's answer on stderr.
"""

import base64
import hashlib
import json
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request


def request(context, method, url, data=None, headers=None):
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, context=context, timeout=30) as resp:
            return resp.status, dict(resp.headers.items()), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers.items()), e.read()


def expect(status, wanted, what, body):
    if status not in wanted:
        sys.stderr.write(f"{what}: HTTP {status}: {body[:2000]!r}\n")
        sys.exit(1)


def push_blob(context, registry, repo, data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    base = f"https://{registry}"
    status, headers, body = request(context, "POST", f"{base}/v2/{repo}/blobs/uploads/")
    expect(status, (202,), f"POST upload to {registry}/{repo}", body)
    location = urllib.parse.urljoin(base + "/", headers["Location"])
    sep = "&" if "?" in location else "?"
    url = f"{location}{sep}digest={urllib.parse.quote(digest)}"
    status, headers, body = request(
        context, "PUT", url, data, {"Content-Type": "application/octet-stream"}
    )
    expect(status, (201,), f"PUT blob {digest} to {registry}/{repo}", body)
    return {"digest": digest, "status": status, "headers": headers}


def push_manifest(context, registry, repo, reference, media_type, data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    url = f"https://{registry}/v2/{repo}/manifests/{reference}"
    status, headers, body = request(context, "PUT", url, data, {"Content-Type": media_type})
    expect(status, (201,), f"PUT manifest {registry}/{repo}:{reference}", body)
    return {"digest": digest, "status": status, "headers": headers}


def get(context, url, accept):
    status, headers, body = request(context, "GET", url, None, {"Accept": accept} if accept else {})
    return {"status": status, "headers": headers, "body": body.decode("utf-8", "replace")}


def main():
    context = ssl.create_default_context(cafile=sys.argv[1])
    answers = []
    for op in json.load(sys.stdin):
        data = base64.b64decode(op.get("data", ""))
        if op["op"] == "blob":
            answers.append(push_blob(context, op["registry"], op["repo"], data))
        elif op["op"] == "manifest":
            answers.append(
                push_manifest(
                    context, op["registry"], op["repo"], op["reference"], op["media_type"], data
                )
            )
        elif op["op"] == "get":
            answers.append(get(context, op["url"], op.get("accept")))
        else:
            sys.exit(f"unknown op {op['op']}")
    json.dump(answers, sys.stdout)


if __name__ == "__main__":
    main()
