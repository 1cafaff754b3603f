"""Key-based cosign (``cosign sign --key``) verification of signatures you already have.

cosign stores an image's signatures in the artifact it pushes at tag ``sha256-<hex>.sig`` (the
image's manifest digest, ``:`` written ``-``) in the image's repository: one layer per
signature, the layer's blob is the payload that was signed and its
``dev.cosignproject.cosign/signature`` annotation the base64 signature. Fetch the artifact's
manifest and blobs yourself; :func:`read_artifact` turns them into the ``(payload, signature)``
pairs :func:`verify` takes. Nothing here does I/O.

Verification is the webhook's own: the core's evidence seam with a cosign need, as for a
policy's ``cosign`` requirement.
"""

from __future__ import annotations

import hashlib as _hashlib
from typing import Iterable, List, Mapping, Optional, Tuple, Union

from . import _portieris
from ._errors import VerificationError
from .notary import Bytes, _as_bytes

Verified = _portieris.Verified

__all__ = ["verify", "read_artifact", "Verified", "SIGNATURE_ANNOTATION", "MAX_SIGNATURES"]

SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
#: The most signatures (artifact layers) accepted for one image, as by the webhook.
MAX_SIGNATURES: int = _portieris.COSIGN_MAX_SIGNATURES

Signatures = Iterable[Tuple[Bytes, Union[str, bytes, None]]]
Key = Union[Bytes, Tuple[str, Bytes]]


def verify(
    signatures: Signatures,
    keys: Union[Bytes, Iterable[Key]],
    reference: str,
    digest: Optional[str] = None,
) -> Verified:
    """Verify the cosign signatures of image ``reference`` and return what they vouch for.

    ``signatures`` are ``(payload, signature)`` pairs, one per layer of the signature
    artifact: the layer blob, byte for byte, and its base64 signature annotation (``None`` when
    the layer has none). ``keys`` are PEM public keys (``cosign.pub``: ECDSA P-256, RSA or
    Ed25519): one, or several, each bare or as a ``(name, pem)`` pair; the name (``keys[<i>]``
    for a bare key) is what messages call the key, where the webhook names its key Secret.
    ``digest`` is the image's manifest digest (``sha256:<hex>``); it defaults to the digest
    ``reference`` pins.

    Every key must have made at least one signature that verifies over its payload, whose
    payload is a cosign container image signature naming ``digest`` and the repository of
    ``reference``. Returns a ``Verified`` (``digest``; ``reference``, the image pinned to it;
    ``keys``, the key names).

    Raises ``VerificationError`` (no signatures; more than ``MAX_SIGNATURES``; for each key
    that no signature holds for, the key's name and every signature's reason: a bad signature,
    another digest or repository, a payload that is not cosign's), ``PolicyError`` (a key that
    is not a PEM public key of a supported type; no key at all) or ``ReferenceError``
    (``reference`` or ``digest`` does not parse, no digest at all, or one the reference does not
    pin). The GIL is released while verifying.
    """
    pairs = [_signature(n, pair) for n, pair in enumerate(signatures)]
    if isinstance(keys, (str, bytes, bytearray, memoryview)):
        keys = [keys]
    named = [_key(n, key) for n, key in enumerate(keys)]
    return _portieris.cosign_verify(pairs, named, reference, digest)


def read_artifact(manifest: Bytes, blobs: Mapping[str, Bytes]) -> List[Tuple[bytes, Optional[str]]]:
    """The ``(payload, signature)`` pairs of a signature artifact, for :func:`verify`.

    ``manifest`` is the artifact's manifest (OCI or Docker v2, as served for the
    ``sha256-<hex>.sig`` tag); ``blobs`` maps each layer's digest (``sha256:<hex>``) to the
    blob the registry served for it. Each blob must hash to its digest. Raises
    ``VerificationError`` for a manifest that is not one (or has more than ``MAX_SIGNATURES``
    layers, or a
    layer over the payload limit), a layer whose blob is missing from ``blobs`` or does not
    hash to its digest.
    """
    layers = _portieris.cosign_layers(_as_bytes(manifest, "manifest must be bytes or str"))
    pairs = []
    for n, (digest, signature) in enumerate(layers, 1):
        if digest not in blobs:
            raise VerificationError(f"cosign: signature {n}: blobs has no {digest}")
        blob = _as_bytes(blobs[digest], f"blobs[{digest!r}] must be bytes or str")
        actual = "sha256:" + _hashlib.sha256(blob).hexdigest()
        if actual != digest:
            raise VerificationError(f"cosign: signature {n}: the blob given for {digest} is {actual}")
        pairs.append((blob, signature))
    return pairs


def _signature(n: int, pair: Tuple[Bytes, Union[str, bytes, None]]) -> Tuple[bytes, Optional[str]]:
    try:
        payload, signature = pair
    except (TypeError, ValueError):
        raise TypeError(f"signatures[{n}] must be a (payload, signature) pair") from None
    payload = _as_bytes(payload, f"signatures[{n}] payload must be bytes or str")
    if signature is None or isinstance(signature, str):
        return payload, signature
    if isinstance(signature, (bytes, bytearray, memoryview)):
        # Base64 is ASCII; anything else cannot verify, and the core says why.
        return payload, bytes(signature).decode("ascii", "replace")
    raise TypeError(f"signatures[{n}] signature must be str, bytes or None, not {type(signature).__name__}")


def _key(n: int, key: Key) -> Tuple[str, str]:
    name, pem = key if isinstance(key, tuple) else (f"keys[{n}]", key)
    text = _as_bytes(pem, f"keys[{n}] must be a PEM str or bytes, or a (name, pem) pair")
    return str(name), text.decode("utf-8", "replace")
