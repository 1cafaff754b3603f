"""Notary Project signatures (Notation): verification of the signatures you already fetched,
under the Notary Project trust policy document (``trustpolicy.json``) you already have.

An image's Notation signatures are OCI referrers of its manifest (artifact type
``application/vnd.cncf.notary.signature``), each one layer holding a JWS
(``application/jose+json``) or COSE (``application/cose``) envelope. Fetch the manifest and the
envelopes yourself; nothing here does I/O.

Verification is the core's, as for a policy's ``notation``: the trust policy statement for the
image's repository decides, in the Notary Project's order, integrity (the envelope's
signature, over the manifest's digest, media type and size), authenticity (a chain to a
certificate of the statement's ``ca`` or ``signingAuthority`` stores, and a trusted
identity), expiry, the authentic timestamp (an RFC 3161 countersignature from a ``tsa``
store, or the signing authority's signing time, or now) and revocation (CRLs given with the
stores; never fetched), each enforced, logged or skipped as the statement's level says.
"""

from __future__ import annotations

import json as _json
from typing import Any, Iterable, Mapping, Tuple, Union

from . import _portieris
from .notary import Bytes, Now, _as_bytes, _unix_seconds

Verified = _portieris.NotationVerified

__all__ = ["verify", "Verified"]

JWS = "application/jose+json"
COSE = "application/cose"


def verify(
    image: str,
    manifest: Bytes,
    signatures: Iterable[Tuple[str, Bytes]],
    *,
    trust_policy: Union[Bytes, Mapping[str, Any]],
    trust_stores: Mapping[str, Mapping[str, Bytes]],
    now: Now = None,
) -> Verified:
    """Return what admitted ``image`` if one of ``signatures`` passes the trust policy.

    ``image`` is ``registry/repository@sha256:<hex>`` (a tag may come before the digest); its
    repository selects the trust policy statement. ``manifest`` is the manifest as the
    registry served it for that digest. ``signatures`` are ``(media_type, envelope)`` pairs,
    ``media_type`` being ``notation.JWS`` or ``notation.COSE``. ``trust_policy`` is the
    document (JSON bytes or text, or a dict). ``trust_stores`` maps ``"type:name"`` (as the
    document names them: ``"ca:acme-rockets"``, ``"tsa:timestamps"``) to the store's files,
    ``{"root.pem": b"-----BEGIN CERTIFICATE-----..."}``: certificates (PEM or DER) in every
    entry, CRLs in those whose name ends in ``.crl``.

    The returned ``Verified`` has ``statement`` (its name), ``signer`` (the signing
    certificate's subject; ``None`` under ``skip``) and ``logged`` (the failures of validations
    the statement only logs).

    Raises ``VerificationError`` when no signature passes (saying why for each),
    ``PolicyError`` (a trust policy document notation would refuse, a store that is not
    given or holds no certificate) or ``ReferenceError`` (``image``). The GIL is released
    while verifying.
    """
    if isinstance(trust_policy, Mapping):
        document = _json.dumps(trust_policy).encode("utf-8")
    else:
        document = _as_bytes(trust_policy, "trust_policy must be JSON bytes, str or a dict")
    stores = {
        str(named): {
            str(key): _as_bytes(value, "each trust store entry must be bytes or str")
            for key, value in entries.items()
        }
        for named, entries in trust_stores.items()
    }
    pairs = [
        (str(media_type), _as_bytes(envelope, "each envelope must be bytes or str"))
        for media_type, envelope in signatures
    ]
    return _portieris.notation_verify(
        image,
        _as_bytes(manifest, "manifest must be bytes or str"),
        pairs,
        document,
        stores,
        _unix_seconds(now),
    )
