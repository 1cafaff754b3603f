from pathlib import Path

import pytest

import portieris

from conftest import EXAMPLES

CLUSTER = """
apiVersion: portieris.cloud.ibm.com/v1
kind: ClusterImagePolicy
metadata:
  name: default
spec:
  repositories:
    - name: "icr.io/*"
      policy:
        trust:
          enabled: true
    - name: "icr.io/team/app"
      policy: {}
---
apiVersion: portieris.cloud.ibm.com/v1
kind: ImagePolicy
metadata:
  name: strict
  namespace: locked
spec:
  repositories:
    - name: "registry.example.com/*"
      policy:
        trust:
          enabled: true
          signerSecrets:
            - name: alice
"""


def test_exact_repository_beats_wildcard():
    policies = portieris.Policies.from_yaml(CLUSTER)
    assert policies.match("default", "icr.io/team/app:1") == ("icr.io/team/app", {})


def test_wildcard_match_returns_the_policy_as_written():
    policies = portieris.Policies.from_yaml(CLUSTER)
    found = policies.match("default", "icr.io/other/app:1")
    assert found.repository == "icr.io/*"
    assert found.policy == {"trust": {"enabled": True}}


def test_namespace_with_image_policies_ignores_cluster_policies():
    policies = portieris.Policies.from_yaml(CLUSTER)
    assert policies.match("locked", "icr.io/team/app:1") is None
    assert "locked" in policies.unmatched_reason("locked", "icr.io/team/app:1")
    found = policies.match("locked", "registry.example.com/x/y")
    assert found.policy["trust"]["signerSecrets"] == [{"name": "alice"}]


def test_unmatched_image_is_none_and_matched_has_no_reason():
    policies = portieris.Policies.from_yaml(CLUSTER)
    assert policies.match("default", "quay.io/x/y") is None
    assert policies.unmatched_reason("default", "icr.io/team/app:1") is None


def test_no_policies_match_nothing():
    policies = portieris.Policies.from_yaml("")
    assert len(policies) == 0
    assert policies.match("default", "nginx") is None
    assert policies.unmatched_reason("default", "nginx") == "no image policies or cluster policies"


def test_invalid_yaml_raises_policy_error_with_the_document_number():
    with pytest.raises(portieris.PolicyError, match="document 3: not valid YAML"):
        portieris.Policies.from_yaml(CLUSTER + "\n---\nkind: [unclosed\n")


def test_unknown_kind_raises_policy_error():
    with pytest.raises(portieris.PolicyError, match="document 1"):
        portieris.Policies.from_yaml("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")


def test_invalid_policy_in_scope_raises_policy_error_on_match():
    broken = CLUSTER.replace("enabled: true\n    - name", "enabled: 12\n    - name", 1)
    policies = portieris.Policies.from_yaml(broken)
    with pytest.raises(portieris.PolicyError, match='ClusterImagePolicy "default" is invalid'):
        policies.match("default", "icr.io/team/app:1")


def test_match_of_an_invalid_image_raises_reference_error():
    policies = portieris.Policies.from_yaml(CLUSTER)
    with pytest.raises(portieris.ReferenceError):
        policies.match("default", "Not A Reference")


def test_policy_folder_reads_like_the_webhook():
    policies = portieris.Policies.from_dir(EXAMPLES / "policies")
    assert policies.match("default", "nginx").repository == "docker.io/library/*"
    assert policies.match("team", "registry.example.com/team/api:1") is not None


def test_policy_folder_problem_names_the_folder(tmp_path: Path):
    (tmp_path / "bad.yaml").write_text("kind: Nope\n")
    with pytest.raises(portieris.PolicyError, match=str(tmp_path)):
        portieris.Policies.from_dir(tmp_path)


def test_image_policy_without_a_namespace_governs_default_and_returns_its_policy():
    policies = portieris.Policies.from_yaml(
        """
apiVersion: portieris.cloud.ibm.com/v1
kind: ImagePolicy
metadata:
  name: plain
spec:
  repositories:
    - name: "quay.io/*"
      policy:
        trust:
          enabled: false
"""
    )
    assert policies.match("default", "quay.io/a/b") == ("quay.io/*", {"trust": {"enabled": False}})
