"""Red Hat "simple signing" (containers/image signatures, as `skopeo standalone-sign` and
`podman push --sign-by` write them): OpenPGP verification, payload and identity checks.

Nothing here does I/O: fetch the signature (from a sigstore/lookaside store, or the registry's
extension) and the manifest digest yourself.
"""

from __future__ import annotations

import collections.abc as _abc
import json as _json
from typing import Any, Mapping, Optional

from . import _portieris
from .notary import Bytes, Now, _as_bytes, _unix_seconds

Payload = _portieris.Payload
# A read-only Mapping of the signed JSON (``__getitem__``, ``__iter__``, ``__len__``,
# ``__contains__``, ``keys``, ``items``, ``values``, ``get``): registered so that
# ``isinstance(payload, collections.abc.Mapping)`` holds.
_abc.Mapping.register(Payload)

__all__ = ["verify", "Payload"]


def verify(
    signature: Bytes,
    keyring: Bytes,
    reference: Optional[str] = None,
    digest: Optional[str] = None,
    identity: Optional[Mapping[str, Any]] = None,
    now: Now = None,
) -> Payload:
    """Verify a simple signature and return its payload, a read-only ``Mapping``.

    The result reads as the signed JSON (``payload["critical"]["image"]["docker-manifest-digest"]``,
    ``dict(payload)``, ``"optional" in payload``; each value is a fresh copy) and has the checked
    fields as attributes: ``reference`` (the signed identity, normalised), ``digest``,
    ``signer`` (fingerprint of the key that signed) and ``payload`` (the signed bytes).

    ``signature`` is the OpenPGP message (binary or armoured, compressed or not); ``keyring``
    the trusted public keys (armoured or binary; any of them may have signed). Checked, as a
    policy's ``signedBy`` requirement is: a signature by a usable key (not expired, not
    revoked, able to sign) at ``now``; with ``digest`` (``sha256:<hex>``), the payload names
    exactly that manifest digest; with ``reference`` (the image), the signed identity is
    accepted by ``identity`` (a ``signedIdentity`` dict, default
    ``{"type": "matchRepoDigestOrExact"}``).

    Raises ``VerificationError`` (bad signature, key or payload, wrong digest or identity),
    ``ReferenceError`` (``reference`` or ``digest`` does not parse) or ``PolicyError`` (an
    invalid ``identity``). The GIL is released while verifying.
    """
    if identity is not None and reference is None:
        raise ValueError("identity needs a reference to check the signed identity against")
    return _portieris.simple_verify(
        _as_bytes(signature, "signature must be bytes or str"),
        _as_bytes(keyring, "keyring must be bytes or str"),
        reference,
        digest,
        _json.dumps(dict(identity)) if identity is not None else None,
        _unix_seconds(now),
    )
