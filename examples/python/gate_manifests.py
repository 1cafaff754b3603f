#!/usr/bin/env python3
"""Gate a folder of Kubernetes manifests against portieris policies, in CI.

    python3 examples/python/gate_manifests.py MANIFEST_DIR --policies POLICY_DIR \
        [--ca CA.pem] [--trust-server REGISTRY=URL] [--namespace NS]

Every Pod, Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob and
ReplicationController document of every *.yaml / *.yml / *.json file becomes a CREATE
AdmissionReview, evaluated by the webhook's own engine (trust data is fetched). Prints one
line per object; exits 1 if any is denied, 2 on unreadable input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml  # PyYAML: pip install pyyaml

import portieris

WORKLOADS = {
    "Pod",
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "CronJob",
    "ReplicationController",
}


def manifests(folder: Path):
    for path in sorted(p for p in folder.rglob("*") if p.suffix in (".yaml", ".yml", ".json")):
        for number, doc in enumerate(yaml.safe_load_all(path.read_text()), start=1):
            if isinstance(doc, dict) and doc.get("kind") in WORKLOADS:
                yield f"{path}#{number}", doc


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("manifests", type=Path)
    parser.add_argument("--policies", type=Path, required=True, help="folder of policy YAML")
    parser.add_argument("--ca", help="extra PEM CAs for registries and notary servers")
    parser.add_argument("--trust-server", action="append", default=[], help="REGISTRY=URL")
    parser.add_argument("--namespace", help="namespace for objects that name none (default: default)")
    args = parser.parse_args()

    try:
        policies = portieris.Policies.from_dir(args.policies)
        objects = list(manifests(args.manifests))
    except (portieris.PolicyError, OSError, yaml.YAMLError) as e:
        print(f"gate: {e}", file=sys.stderr)
        return 2
    servers = dict(s.split("=", 1) for s in args.trust_server)

    denied = 0
    for where, manifest in objects:
        review = portieris.admission_review_for(manifest, namespace=args.namespace)
        response = portieris.review(review, policies, ca_file=args.ca, trust_servers=servers)["response"]
        name = f"{manifest['kind']}/{manifest.get('metadata', {}).get('name', '?')}"
        if response["allowed"]:
            print(f"ALLOW {name} ({where})")
        else:
            denied += 1
            print(f"DENY  {name} ({where})")
            for reason in response.get("status", {}).get("message", "").splitlines():
                print(f"      {reason}")
    print(f"{len(objects)} objects, {denied} denied")
    return 1 if denied else 0


if __name__ == "__main__":
    sys.exit(main())
