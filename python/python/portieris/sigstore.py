"""Sigstore bundles (``cosign sign`` v3, ``sigstore-python``, ``gh attestation``): verification
of a bundle you already have.

A bundle (``application/vnd.dev.sigstore.bundle.v0.3+json`` and earlier) carries a message
signature or a DSSE envelope, the signer's key hint or Fulcio certificate, its transparency
log entries (Rekor v1 or v2) and RFC 3161 timestamps. cosign v3 stores an image's bundles as
OCI referrers of its manifest; fetch them yourself. Nothing here does I/O.

Verification is the core's, as for a policy's ``cosign`` requirement with ``format: bundle``
and ``portieris sigstore verify-bundle``; identities are read as a policy's
``keyless.identities``.
"""

from __future__ import annotations

import json as _json
from typing import Any, Iterable, Mapping, Optional, Tuple

from . import _portieris
from ._errors import PolicyError
from .notary import Bytes, Now, _as_bytes, _unix_seconds

Verified = _portieris.SigstoreVerified
Identity = _portieris.SigstoreIdentity

__all__ = ["verify_bundle", "Verified", "Identity"]


def verify_bundle(
    bundle: Bytes,
    digest: str,
    *,
    trusted_root: Optional[Bytes] = None,
    identities: Optional[Iterable[Mapping[str, Any]]] = None,
    key: Optional[Bytes] = None,
    now: Now = None,
) -> Verified:
    """Verify a Sigstore bundle as a signature of the artifact whose SHA-256 is ``digest``.

    ``digest`` is ``sha256:<hex>`` of the signed artifact (for an image, its manifest digest).
    Give exactly one of:

    - ``identities`` (keyless): dicts with ``issuer`` or ``issuerRegExp``, ``subject`` or
      ``subjectRegExp``, and optionally ``extensions`` (``{name: exact value}``, Fulcio's
      names: ``githubWorkflowRepository``, ``sourceRepositoryRef``, ``buildSignerURI``, ...),
      as a policy's ``keyless.identities``; regexes match the whole value. The certificate
      must chain to a Fulcio CA of the trusted root, with a valid SCT, at every verified
      signing time, and match one identity. ``trusted_root`` (a ``trusted_root.json``)
      defaults to the Sigstore public-good root portieris ships.
    - ``key`` (a PEM public key): the key is the trust; log entries and timestamps are
      checked only when ``trusted_root`` is given.

    ``now`` (Unix seconds or an aware datetime; default the current time) bounds log times.
    Returns a ``Verified``: ``signed_at`` (every verified signing time, Unix seconds) and
    ``identity`` (``None`` for a key bundle; else ``subject``, ``subject_kind``, ``issuer``,
    ``extensions``).

    Raises ``VerificationError`` (a bundle that does not parse or verify: the core's message),
    ``PolicyError`` (neither or both of ``identities`` and ``key``, an identity that cannot be
    compiled, an unusable key, a trusted root that does not parse) or ``ReferenceError``
    (``digest`` does not parse). The GIL is released while verifying.
    """
    written, pem, root = _signer(identities, key, trusted_root)
    return _portieris.sigstore_verify_bundle(
        _as_bytes(bundle, "bundle must be bytes or str"),
        digest,
        root,
        written,
        pem,
        _unix_seconds(now),
    )


def _signer(
    identities: Optional[Iterable[Mapping[str, Any]]],
    key: Optional[Bytes],
    trusted_root: Optional[Bytes],
) -> Tuple[Optional[str], Optional[str], Optional[bytes]]:
    """The identities as JSON, the key as PEM text and the root as bytes, for the native side
    (shared with ``portieris.attestations``)."""
    written = None
    if identities is not None:
        if isinstance(identities, Mapping) or isinstance(identities, (str, bytes)):
            raise PolicyError("identities must be a list of identity dicts")
        try:
            written = _json.dumps([dict(identity) for identity in identities])
        except (TypeError, ValueError) as e:
            raise PolicyError(f"identities: {e}") from None
    pem = _as_bytes(key, "key must be a PEM str or bytes").decode("utf-8", "replace") if key is not None else None
    root = _as_bytes(trusted_root, "trusted_root must be bytes or str") if trusted_root is not None else None
    return written, pem, root
