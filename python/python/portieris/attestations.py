"""in-toto attestations (``cosign attest``: SLSA provenance, SBOMs, vulnerability reports):
verification of the attestations you already fetched, with CEL conditions.

An image's attestations are Sigstore bundles among its OCI referrers (cosign 3) or the DSSE
envelopes that are the layers of its ``sha256-<hex>.att`` tag (cosign 1 and 2, key-signed).
Fetch them yourself; nothing here does I/O.

Verification is the core's, as for a policy's ``attestations`` entry: the statement must be of
the predicate type, name the digest as a subject, be signed by the key or one of the keyless
identities (checked as ``portieris.sigstore.verify_bundle`` checks image signatures), and every
condition must hold. Conditions are CEL over ``predicate``, ``predicateType`` and ``subject``,
each compiled once and evaluated within a cost limit.
"""

from __future__ import annotations

import json as _json
from typing import Any, Iterable, List, Mapping, Optional

from . import _portieris
from ._errors import PolicyError
from .notary import Bytes, Now, _as_bytes, _unix_seconds
from .sigstore import _signer

Statement = _portieris.AttestationStatement

__all__ = ["verify", "predicate", "Statement"]


def verify(
    digest: str,
    predicate_type: str,
    *,
    bundles: Iterable[Bytes] = (),
    envelopes: Iterable[Bytes] = (),
    identities: Optional[Iterable[Mapping[str, Any]]] = None,
    key: Optional[Bytes] = None,
    trusted_root: Optional[Bytes] = None,
    conditions: Iterable[str] = (),
    now: Now = None,
) -> List[Statement]:
    """Return every statement among ``bundles`` and ``envelopes`` that meets the requirement.

    ``digest`` is ``sha256:<hex>`` of the image's manifest. ``predicate_type`` is a URI or a
    short name of ``cosign attest --type`` (``slsaprovenance1``, ``spdxjson``, ``cyclonedx``,
    ``vuln``...). Give ``identities`` (keyless; as ``portieris.sigstore.verify_bundle``, with
    ``trusted_root`` defaulting to the Sigstore public-good root) or ``key`` (a PEM public key).
    ``conditions`` are CEL expressions that must all be true, e.g.
    ``predicate.runDetails.builder.id == "https://github.com/org/ci"``.

    Each returned ``Statement`` has ``statement`` (the signed JSON bytes; ``predicate(s)`` parses
    its predicate), ``predicate_type``, ``identity`` (``None`` for a key) and ``signed_at``.

    Raises ``VerificationError`` when no statement passes (saying, for each one of the type
    read, why: its signature, its subject, or which condition is false or failed),
    ``PolicyError`` (a condition that does not compile, with its line and column; an unknown
    predicate type; neither or both of ``identities`` and ``key``) or ``ReferenceError``
    (``digest``). The GIL is released while verifying.
    """
    written, pem, root = _signer(identities, key, trusted_root)
    if isinstance(conditions, str):
        raise PolicyError("conditions must be a list of CEL expressions, not one string")
    return _portieris.attestations_verify(
        digest,
        predicate_type,
        [_as_bytes(b, "each bundle must be bytes or str") for b in bundles],
        [_as_bytes(e, "each envelope must be bytes or str") for e in envelopes],
        root,
        written,
        pem,
        [str(c) for c in conditions],
        _unix_seconds(now),
    )


def predicate(statement: Statement) -> Any:
    """The predicate of a verified statement, parsed from its JSON."""
    return _json.loads(statement.statement).get("predicate")
