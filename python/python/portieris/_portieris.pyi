"""Type stubs of the native module. Use the `portieris` package, not this module directly."""

from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

__version__: str
COSIGN_MAX_SIGNATURES: int

class Reference:
    """A parsed, normalised image reference."""

    @property
    def registry(self) -> str: ...
    @property
    def repository(self) -> str: ...
    @property
    def tag(self) -> Optional[str]: ...
    @property
    def digest(self) -> Optional[str]: ...
    @property
    def name(self) -> str: ...
    def pinned(self, digest: str) -> str: ...
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...

class Target:
    """A target verified from Notary v1 trust data."""

    @property
    def digest(self) -> str: ...
    @property
    def length(self) -> int: ...
    @property
    def roles(self) -> List[str]: ...
    @property
    def expires(self) -> int: ...

class Policies:
    @staticmethod
    def from_yaml(text: str) -> "Policies": ...
    def match_json(self, namespace: str, image: str) -> Optional[Tuple[str, str]]: ...
    def unmatched_reason(self, namespace: str, image: str) -> Optional[str]: ...
    def __len__(self) -> int: ...

def parse_reference(text: str) -> Reference: ...
def notary_verify(
    gun: str,
    target: str,
    metadata: Dict[str, Optional[bytes]],
    now: int,
    signers: Sequence[Tuple[str, str]],
) -> Target: ...
def review_json(
    body: bytes,
    policies: Policies,
    ca_file: Optional[str],
    trust_servers: Sequence[Tuple[str, str]],
    fetch_timeout: float,
    deadline: float,
    allow_unknown_kinds: bool,
) -> Tuple[int, bytes]: ...

class Payload(Mapping[str, Any]):
    """A simple-signing payload whose signature verified: a read-only Mapping of its JSON
    (registered with ``collections.abc.Mapping`` by ``portieris.simple``), values copied;
    ``get``, ``keys``, ``values``, ``items`` and ``in`` as a Mapping's."""

    @property
    def reference(self) -> str: ...
    @property
    def digest(self) -> str: ...
    @property
    def signer(self) -> str: ...
    @property
    def payload(self) -> bytes: ...
    def __getitem__(self, key: str) -> Any: ...
    def __iter__(self) -> Iterator[str]: ...
    def __len__(self) -> int: ...

def simple_verify(
    signature: bytes,
    keyring: bytes,
    reference: Optional[str],
    digest: Optional[str],
    identity: Optional[str],
    now: int,
) -> Payload: ...

class Verified:
    """An image whose cosign signatures held: every key signed its digest."""

    @property
    def digest(self) -> str: ...
    @property
    def reference(self) -> str: ...
    @property
    def keys(self) -> List[str]: ...

def cosign_verify(
    signatures: Sequence[Tuple[bytes, Optional[str]]],
    keys: Sequence[Tuple[str, str]],
    reference: str,
    digest: Optional[str],
) -> Verified: ...
def cosign_layers(manifest: bytes) -> List[Tuple[str, Optional[str]]]: ...

class SigstoreIdentity:
    """The identity in a Fulcio certificate (``portieris.sigstore.Identity``)."""

    @property
    def subject(self) -> str: ...
    @property
    def subject_kind(self) -> str: ...
    @property
    def issuer(self) -> Optional[str]: ...
    @property
    def extensions(self) -> Dict[str, str]: ...

class SigstoreVerified:
    """A Sigstore bundle that verified (``portieris.sigstore.Verified``)."""

    @property
    def signed_at(self) -> List[int]: ...
    @property
    def identity(self) -> Optional[SigstoreIdentity]: ...

def sigstore_verify_bundle(
    bundle: bytes,
    digest: str,
    trusted_root: Optional[bytes],
    identities: Optional[str],
    key: Optional[str],
    now: int,
) -> SigstoreVerified: ...

class AttestationStatement:
    """A statement that met the requirement (``portieris.attestations.Statement``)."""

    @property
    def statement(self) -> bytes: ...
    @property
    def predicate_type(self) -> str: ...
    @property
    def identity(self) -> Optional[SigstoreIdentity]: ...
    @property
    def signed_at(self) -> List[int]: ...

def attestations_verify(
    digest: str,
    predicate_type: str,
    bundles: List[bytes],
    envelopes: List[bytes],
    trusted_root: Optional[bytes],
    identities: Optional[str],
    key: Optional[str],
    conditions: List[str],
    now: int,
) -> List[AttestationStatement]: ...

class NotationVerified:
    """What admitted an image (``portieris.notation.Verified``)."""

    @property
    def statement(self) -> str: ...
    @property
    def signer(self) -> Optional[str]: ...
    @property
    def logged(self) -> List[str]: ...

def notation_verify(
    image: str,
    manifest: bytes,
    signatures: List[Tuple[str, bytes]],
    trust_policy: bytes,
    trust_stores: Dict[str, Dict[str, bytes]],
    now: int,
) -> NotationVerified: ...
