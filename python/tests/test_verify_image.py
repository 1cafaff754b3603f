"""verify_image against the live test rig (registry + notary-server): network, no skips."""

import pytest

import portieris


def rig_policies(rig, signer_secret=None):
    notary = rig["env"]["PORTIERIS_RIG_NOTARY"]
    registry = rig["env"]["PORTIERIS_RIG_REGISTRY"]
    signers = ""
    secret = ""
    if signer_secret:
        name, pem = signer_secret
        signers = f"\n          signerSecrets:\n            - name: {name}-signer"
        indented = "\n".join("    " + line for line in pem.strip().splitlines())
        secret = f"""
---
apiVersion: v1
kind: Secret
metadata:
  name: {name}-signer
  namespace: portieris
stringData:
  name: {name}
  publicKey: |
{indented}
"""
    return portieris.Policies.from_yaml(
        f"""
apiVersion: portieris.cloud.ibm.com/v1
kind: ClusterImagePolicy
metadata:
  name: rig
spec:
  repositories:
    - name: "{registry}/*"
      policy:
        trust:
          enabled: true
          trustServer: "{notary}"{signers}
{secret}"""
    )


def ca(rig):
    return rig["env"]["PORTIERIS_RIG_CA"]


def test_signed_image_is_allowed_and_pinned_to_the_signed_digest(rig):
    image = rig["images"]["signed_v1"]
    result = portieris.verify_image(image["image"], rig_policies(rig), ca_file=ca(rig))
    assert result == (True, image["digest"], [])
    assert result.allowed and result.digest == image["digest"]


def test_unsigned_image_is_denied_with_a_reason_naming_it(rig):
    image = rig["images"]["unsigned_v1"]
    result = portieris.verify_image(image["image"], rig_policies(rig), ca_file=ca(rig))
    assert result.allowed is False
    assert result.digest is None
    assert any(image["image"] in reason or "unsigned" in reason for reason in result.reasons)


def test_image_without_a_policy_is_denied(rig):
    result = portieris.verify_image("quay.io/x/y:1", rig_policies(rig), ca_file=ca(rig))
    assert result.allowed is False
    assert result.reasons


def test_without_the_rig_ca_the_notary_tls_is_refused(rig):
    image = rig["images"]["signed_v1"]
    result = portieris.verify_image(image["image"], rig_policies(rig))
    assert result.allowed is False


def test_pinned_signer_key_in_a_secret_is_checked(rig):
    image = rig["images"]["onesigner_v1"]
    alice = open(f"{rig['env']['PORTIERIS_RIG_KEYS']}/alice.pub.pem").read()
    allowed = portieris.verify_image(image["image"], rig_policies(rig, ("alice", alice)), ca_file=ca(rig))
    assert allowed.allowed, allowed.reasons
    assert allowed.digest == image["digest"]


def test_invalid_image_raises_reference_error(rig):
    with pytest.raises(portieris.ReferenceError):
        portieris.verify_image("Bad Image", rig_policies(rig), ca_file=ca(rig))
