#!/usr/bin/env python3
"""Write a tiny, deterministic OCI image layout without docker.

usage: mkimage.py [--alpine] LAYOUT_DIR TAG CONTENT

The image has one gzip layer holding `/portieris-rig.txt` (= CONTENT), an OCI config
for linux/amd64 and an OCI manifest; `index.json` names it TAG
(`org.opencontainers.image.ref.name`). Same CONTENT -> same bytes -> same digests.
With --alpine the layer also holds an Alpine-like `etc/os-release` and APK database
(`lib/apk/db/installed`: musl, busybox, libcrypto3, libssl3), so SBOM tools list packages.
Push it with `skopeo copy oci:LAYOUT_DIR:TAG docker://...`.
"""

import gzip
import hashlib
import io
import json
import os
import sys
import tarfile


def blob(layout, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    path = os.path.join(layout, "blobs", "sha256", digest)
    with open(path, "wb") as f:
        f.write(data)
    return "sha256:" + digest


def apk(name, version, origin, license, desc, url, deps, provides, files):
    """One package's entry in an APK database, as apk writes it."""
    lines = [f"P:{name}", f"V:{version}", "A:x86_64", "S:100000", "I:200000",
             f"T:{desc}", f"U:{url}", f"L:{license}", f"o:{origin}",
             "m:Portieris Test <test@portieris.test>", "t:1717000000", f"c:{'ab' * 20}"]
    if deps:
        lines.append("D:" + " ".join(deps))
    if provides:
        lines.append("p:" + " ".join(provides))
    for d, fs in files:
        lines.append(f"F:{d}")
        lines += [f"R:{f}" for f in fs]
    return "\n".join(lines) + "\n\n"


def alpine_files():
    """The files that make an image look like Alpine 3.20 with four packages to syft."""
    libc = "so:libc.musl-x86_64.so.1"
    db = "".join([
        apk("musl", "1.2.5-r0", "musl", "MIT", "the musl c library (libc) implementation",
            "https://musl.libc.org/", [], [libc + "=1"], [("lib", ["ld-musl-x86_64.so.1"])]),
        apk("busybox", "1.36.1-r29", "busybox", "GPL-2.0-only",
            "Size optimized toolbox of many common UNIX utilities",
            "https://busybox.net/", [libc], ["cmd:busybox=1.36.1-r29"], [("bin", ["busybox"])]),
        apk("libcrypto3", "3.3.0-r2", "openssl", "Apache-2.0", "Crypto library from openssl",
            "https://www.openssl.org/", [libc], ["so:libcrypto.so.3=3"], [("lib", ["libcrypto.so.3"])]),
        apk("libssl3", "3.3.0-r2", "openssl", "Apache-2.0", "SSL shared libraries",
            "https://www.openssl.org/", ["so:libcrypto.so.3", libc], ["so:libssl.so.3=3"],
            [("lib", ["libssl.so.3"])]),
    ])
    return {
        "etc/os-release": 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.20.0\n'
        'PRETTY_NAME="Alpine Linux v3.20"\nHOME_URL="https://alpinelinux.org/"\n',
        "etc/alpine-release": "3.20.0\n",
        "lib/apk/db/installed": db,
    }


def main():
    args = sys.argv[1:]
    alpine = args[:1] == ["--alpine"]
    if alpine:
        args = args[1:]
    if len(args) != 3:
        sys.exit(__doc__)
    layout, tag, content = args[0], args[1], args[2].encode()
    extra = alpine_files() if alpine else {}
    os.makedirs(os.path.join(layout, "blobs", "sha256"), exist_ok=True)

    tar_buf = io.BytesIO()
    with tarfile.open(fileobj=tar_buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs = sorted({"/".join(p.split("/")[:i]) for p in extra for i in range(1, p.count("/") + 1)})
        for d in dirs:
            info = tarfile.TarInfo(d)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 0
            tar.addfile(info)
        for path in sorted(extra):
            data = extra[path].encode()
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            tar.addfile(info, io.BytesIO(data))
        info = tarfile.TarInfo("portieris-rig.txt")
        info.size = len(content)
        info.mtime = 0
        info.mode = 0o644
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        tar.addfile(info, io.BytesIO(content))
    tar_bytes = tar_buf.getvalue()
    gz_buf = io.BytesIO()
    with gzip.GzipFile(fileobj=gz_buf, mode="wb", mtime=0, compresslevel=9) as gz:
        gz.write(tar_bytes)
    layer = gz_buf.getvalue()
    layer_digest = blob(layout, layer)
    diff_id = "sha256:" + hashlib.sha256(tar_bytes).hexdigest()

    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": "1970-01-01T00:00:00Z",
        "config": {"Cmd": ["/portieris-rig.txt"], "Labels": {"portieris-rig": tag}},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "portieris rig mkimage.py"}],
    }
    config_bytes = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    config_digest = blob(layout, config_bytes)

    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": len(config_bytes),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": layer_digest,
                "size": len(layer),
            }
        ],
    }
    manifest_bytes = json.dumps(manifest, separators=(",", ":")).encode()
    manifest_digest = blob(layout, manifest_bytes)

    index_path = os.path.join(layout, "index.json")
    index = {"schemaVersion": 2, "manifests": []}
    if os.path.exists(index_path):
        with open(index_path) as f:
            index = json.load(f)
    index["manifests"] = [
        m
        for m in index.get("manifests", [])
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") != tag
    ]
    index["manifests"].append(
        {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": len(manifest_bytes),
            "annotations": {"org.opencontainers.image.ref.name": tag},
        }
    )
    with open(index_path, "w") as f:
        json.dump(index, f)
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    print(manifest_digest)


if __name__ == "__main__":
    main()
