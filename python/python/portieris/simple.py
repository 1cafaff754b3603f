"""Red Hat "simple signing" (containers/image signatures, as `skopeo standalone-sign` and
`podman push --sign-by` write them): OpenPGP verification, payload and identity checks.

Nothing here does I/O: fetch the signature (from a sigstore/lookaside store, or the registry's
extension) and the manifest digest yourself.
"""

from __future__ import annotations

import json as _json
from typing import Any, Mapping, Optional, Union

from . import _portieris
from .notary import Now, _unix_seconds

Payload = _portieris.Payload

__all__ = ["verify", "Payload"]

Bytes = Union[bytes, bytearray, memoryview, str]


def _bytes(name: str, data: Bytes) -> bytes:
    if isinstance(data, bytes):
        return data
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    if isinstance(data, str):
        return data.encode("utf-8")
    raise TypeError(f"{name} must be bytes or str, not {type(data).__name__}")


def verify(
    signature: Bytes,
    keyring: Bytes,
    reference: Optional[str] = None,
    digest: Optional[str] = None,
    identity: Optional[Mapping[str, Any]] = None,
    now: Now = None,
) -> Payload:
    """Verify a simple signature and return its payload.

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
        _bytes("signature", signature),
        _bytes("keyring", keyring),
        reference,
        digest,
        _json.dumps(dict(identity)) if identity is not None else None,
        _unix_seconds(now),
    )
