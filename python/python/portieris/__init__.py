"""portieris: admit only trusted container images.

Python binding of portieris (a Rust implementation of IBM Portieris): parse image references,
verify Notary v1 trust data, simple signatures, cosign signatures, Sigstore bundles,
attestations and Notation signatures, match image policies, and evaluate Kubernetes AdmissionReviews with the same
engine as the webhook.
"""

from __future__ import annotations

import base64 as _base64
import json as _json
import os as _os
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Union

from . import _portieris, attestations, cosign, notary, notation, sigstore, simple
from ._errors import Error, PolicyError, ReferenceError, VerificationError

__version__: str = _portieris.__version__

Reference = _portieris.Reference

__all__ = [
    "__version__",
    "Error",
    "ReferenceError",
    "PolicyError",
    "VerificationError",
    "Reference",
    "parse_reference",
    "Policies",
    "PolicyMatch",
    "ImageVerdict",
    "review",
    "verify_image",
    "admission_review_for",
    "notary",
    "simple",
    "cosign",
    "sigstore",
    "attestations",
    "notation",
]

PathLike = Union[str, "_os.PathLike[str]"]


def parse_reference(text: str) -> Reference:
    """Parse and normalise an image reference as docker does.

    ``parse_reference("nginx")`` is ``docker.io/library/nginx:latest``. Raises
    ``ReferenceError`` (a ``ValueError``) saying what is wrong with the text.
    """
    return _portieris.parse_reference(text)


class PolicyMatch(NamedTuple):
    """The repository rule that governs an image: its ``name`` and its ``policy``, as written."""

    repository: str
    policy: Dict[str, Any]


class Policies:
    """ImagePolicy, ClusterImagePolicy and Secret objects, compiled for matching and reviews.

    Resolution is Portieris': a namespace's ImagePolicies if it has any, otherwise the
    ClusterImagePolicies; an exact repository name wins over wildcards, then the longest one.
    """

    __slots__ = ("_native",)

    def __init__(self, native: "_portieris.Policies") -> None:
        self._native = native

    @classmethod
    def from_yaml(cls, text: str) -> "Policies":
        """Read ImagePolicy, ClusterImagePolicy and Secret documents from YAML (or JSON).

        Raises ``PolicyError`` listing every document that is not YAML or not one of those
        objects. A policy whose ``spec`` is invalid is kept, and denies its whole scope.
        """
        return cls(_portieris.Policies.from_yaml(text))

    @classmethod
    def from_dir(cls, path: PathLike) -> "Policies":
        """Read every ``*.yaml``, ``*.yml`` and ``*.json`` file below ``path`` (sorted, names
        starting with ``.`` skipped), as ``portieris serve --policy-dir`` does."""
        files = []
        for root, dirs, names in _os.walk(path):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            files.extend(
                _os.path.join(root, n)
                for n in names
                if not n.startswith(".") and n.endswith((".yaml", ".yml", ".json"))
            )
        texts, problems = [], []
        for file in sorted(files):
            with open(file, encoding="utf-8") as handle:
                text = handle.read()
            try:  # each file alone first, so that a problem names its file
                cls.from_yaml(text)
            except PolicyError as e:
                problems.append(f"{file}: {e}")
            texts.append(text)
        if problems:
            raise PolicyError("\n".join(problems))
        return cls.from_yaml("\n---\n".join(texts))

    def match(self, namespace: str, image: str) -> Optional[PolicyMatch]:
        """The rule governing ``image`` in ``namespace``, or ``None`` when none does (a deny).

        Raises ``ReferenceError`` for an image that does not parse and ``PolicyError`` when an
        invalid policy is in scope (which denies every image of that scope).
        """
        found = self._native.match_json(namespace, image)
        if found is None:
            return None
        repository, policy = found
        return PolicyMatch(repository, _json.loads(policy))

    def unmatched_reason(self, namespace: str, image: str) -> Optional[str]:
        """Why no rule governs ``image`` in ``namespace`` (the deny message), else ``None``."""
        return self._native.unmatched_reason(namespace, image)

    def __len__(self) -> int:
        return len(self._native)

    def __repr__(self) -> str:
        return f"Policies(<{len(self)} objects>)"


def review(
    admission_review: Union[Mapping[str, Any], str, bytes],
    policies: Policies,
    *,
    ca_file: Optional[PathLike] = None,
    trust_servers: Optional[Mapping[str, str]] = None,
    fetch_timeout: float = 5.0,
    deadline: float = 30.0,
    allow_unknown_kinds: bool = False,
) -> Dict[str, Any]:
    """Evaluate an AdmissionReview (dict or JSON) and return the response AdmissionReview.

    This is the webhook's own admission path: images are resolved against ``policies`` and
    Notary trust data is fetched over the network (``ca_file``: extra PEM CAs for HTTPS;
    ``trust_servers``: registry host -> notary URL, on top of the built-in map). Allowed
    responses pin images to digests with a base64 JSONPatch. Blocking; the GIL is released.

    Raises ``Error`` when the input is not an AdmissionReview with a request uid (a review
    with a uid that cannot be evaluated is answered with a refusal instead).
    """
    if isinstance(admission_review, (bytes, bytearray)):
        body = bytes(admission_review)
    elif isinstance(admission_review, str):
        body = admission_review.encode("utf-8")
    else:
        body = _json.dumps(admission_review).encode("utf-8")
    servers = sorted((trust_servers or {}).items())
    ca = _os.fspath(ca_file) if ca_file is not None else None
    status, answer = _portieris.review_json(
        body,
        policies._native,
        ca,
        servers,
        float(fetch_timeout),
        float(deadline),
        bool(allow_unknown_kinds),
    )
    if status != 200:
        raise Error(answer.decode("utf-8", "replace").strip())
    return _json.loads(answer)


class ImageVerdict(NamedTuple):
    """Whether an image would be admitted; ``digest`` is the one it is pinned to."""

    allowed: bool
    digest: Optional[str]
    reasons: List[str]


def verify_image(
    image: str,
    policies: Policies,
    namespace: str = "default",
    ca_file: Optional[PathLike] = None,
    *,
    trust_servers: Optional[Mapping[str, str]] = None,
    fetch_timeout: float = 5.0,
    deadline: float = 30.0,
) -> ImageVerdict:
    """Would a pod running ``image`` in ``namespace`` be admitted under ``policies``?

    Builds a one-container Pod AdmissionReview and runs :func:`review` (network; the GIL is
    released). ``digest`` is the digest the image is pinned to when allowed (or the one the
    reference already has); ``reasons`` are the deny messages. Raises ``ReferenceError`` for
    an image that does not parse.
    """
    reference = parse_reference(image)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "portieris-verify-image", "namespace": namespace},
        "spec": {"containers": [{"name": "image", "image": image}]},
    }
    answer = review(
        _admission_review(pod, namespace, "portieris-python-verify-image"),
        policies,
        ca_file=ca_file,
        trust_servers=trust_servers,
        fetch_timeout=fetch_timeout,
        deadline=deadline,
    )
    response = answer.get("response", {})
    if not response.get("allowed", False):
        message = response.get("status", {}).get("message", "denied")
        return ImageVerdict(False, None, message.splitlines())
    digest = reference.digest
    for op in _patch(response):
        value = op.get("value")
        if op.get("path") == "/spec/containers/0/image" and isinstance(value, str) and "@" in value:
            digest = value.rsplit("@", 1)[1]
    return ImageVerdict(True, digest, [])


_KINDS = {
    # kind: (group, version, resource)
    "Pod": ("", "v1", "pods"),
    "ReplicationController": ("", "v1", "replicationcontrollers"),
    "Deployment": ("apps", "v1", "deployments"),
    "ReplicaSet": ("apps", "v1", "replicasets"),
    "StatefulSet": ("apps", "v1", "statefulsets"),
    "DaemonSet": ("apps", "v1", "daemonsets"),
    "Job": ("batch", "v1", "jobs"),
    "CronJob": ("batch", "v1", "cronjobs"),
}


def admission_review_for(
    manifest: Mapping[str, Any], namespace: Optional[str] = None, uid: Optional[str] = None
) -> Dict[str, Any]:
    """A CREATE AdmissionReview for a Kubernetes object (Pod, Deployment, Job, CronJob, ...).

    ``namespace`` defaults to the manifest's, then ``default``. Useful to gate manifests in CI
    with :func:`review`.
    """
    metadata = manifest.get("metadata") or {}
    ns = namespace or metadata.get("namespace") or "default"
    name = metadata.get("name") or "unnamed"
    kind = str(manifest.get("kind", ""))
    return _admission_review(manifest, ns, uid or f"portieris-python-{kind.lower()}-{name}")


def _admission_review(obj: Mapping[str, Any], namespace: str, uid: str) -> Dict[str, Any]:
    kind = str(obj.get("kind", ""))
    api_version = str(obj.get("apiVersion", "v1"))
    group, _, version = api_version.rpartition("/")
    resource = _KINDS.get(kind, (group, version, kind.lower() + "s"))[2]
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": group, "version": version, "kind": kind},
            "resource": {"group": group, "version": version, "resource": resource},
            "name": (obj.get("metadata") or {}).get("name", ""),
            "namespace": namespace,
            "operation": "CREATE",
            "object": obj,
        },
    }


def _patch(response: Mapping[str, Any]) -> List[Dict[str, Any]]:
    encoded = response.get("patch")
    if not encoded:
        return []
    ops = _json.loads(_base64.b64decode(encoded))
    return ops if isinstance(ops, list) else []
