"""Mutual TLS between the entry point and the replicas: what the program sends (fake cloud).

The real proxy and the real app speak it in tests/test_replica_mtls.py; here the certificates,
the Secrets that carry them, the pods that mount them and the ACI rules those pods meet.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fake_cloud import (
    BASE_CONFIG,
    TLS_CERT,
    TLS_PRIVATE_KEY,
    UNKNOWN,
    Deployment,
    Registration,
    is_secret,
    redact,
    reveal,
    run_program,
)

from core.aci_rules import aci_violations, virtual_node
from core.app_contract import OWN_APP, PROBE_PORT, REPLICA_SERVER_NAME, contract_for
from settings import ConfigError, Settings, load_settings
from specs.aci_check import aci_problems, web_workload_object
from specs.kube_form import is_not_known_yet
from specs.replica_tls import ENTRY_CLIENT, REPLICA_SERVER
from specs.web_workload import TLS_DIR, mutual_tls, placeholder_inputs

BURST = {"gke-aci:appPlacement": "burst", "gke-aci:appReplicas": "3"}
ACI_REPLICAS = {"gke-aci:appPlacement": "aci", "gke-aci:appReplicas": "3"}
FRONTED = [BURST, ACI_REPLICAS]
SECRET = "kubernetes:core/v1:Secret"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
PRIVATE_KEY = "tls:index/privateKey:PrivateKey"
LEAF_CERT = "tls:index/locallySignedCert:LocallySignedCert"
CERT_REQUEST = "tls:index/certRequest:CertRequest"
TLS_FILES = {"tls.crt", "tls.key", "ca.crt"}


@pytest.fixture(params=[BURST, ACI_REPLICAS], ids=["burst", "aci-replicas"])
def fronted(request: pytest.FixtureRequest) -> Deployment:
    return run_program(request.param)


def deployment(stack: Deployment, name: str) -> dict[str, Any]:
    [found] = [r for r in stack.of_type(DEPLOYMENT) if r.inputs["metadata"].get("name") == name]
    return reveal(found.inputs)


def tls_secret(stack: Deployment, name: str) -> Registration:
    [found] = [r for r in stack.of_type(SECRET) if r.name == name]
    return found


def strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in strings(item)]
    return []


def test_the_stack_owns_a_ca_that_signs_a_server_and_a_client_certificate(
    fronted: Deployment,
) -> None:
    [ca] = [
        r for r in fronted.of_type("tls:index/selfSignedCert:SelfSignedCert") if "todo-tls" in r.urn
    ]
    assert ca.inputs["isCaCertificate"] is True
    assert "cert_signing" in ca.inputs["allowedUses"]
    requests = {r.name: r.inputs for r in fronted.of_type(CERT_REQUEST)}
    assert requests["todo-tls-replica"]["dnsNames"] == [REPLICA_SERVER_NAME]
    assert requests["todo-tls-entry"]["subject"]["commonName"] == ENTRY_CLIENT.common_name
    leaves = {r.name: r.inputs for r in fronted.of_type(LEAF_CERT)}
    assert leaves["todo-tls-replica"]["allowedUses"] == list(REPLICA_SERVER.allowed_uses)
    assert leaves["todo-tls-entry"]["allowedUses"] == list(ENTRY_CLIENT.allowed_uses)
    for leaf in leaves.values():
        # Signed by the CA, with its key as a secret input.
        assert reveal(leaf["caCertPem"]) == TLS_CERT
        assert is_secret(leaf["caPrivateKeyPem"])


def test_every_private_key_is_a_secret_from_end_to_end(fronted: Deployment) -> None:
    keys = [r for r in fronted.of_type(PRIVATE_KEY) if "todo-tls" in r.urn]
    assert len(keys) == 3  # the CA's, the replicas', the entry point's
    for key in keys:
        assert is_secret(key.outputs["privateKeyPem"]), key.name
    for registration in fronted.registrations:
        for what in (registration.inputs, registration.outputs):
            assert TLS_PRIVATE_KEY not in strings(redact(what)), registration.urn
    assert TLS_PRIVATE_KEY not in strings(redact(fronted.stack_outputs))


@pytest.mark.parametrize(
    ("name", "deployment_name"), [("todo-tls", "web"), ("todo-entry-tls", "web-entry")]
)
def test_each_end_mounts_its_key_read_only_from_an_immutable_tls_secret(
    fronted: Deployment, name: str, deployment_name: str
) -> None:
    secret = tls_secret(fronted, name)
    assert secret.inputs["type"] == "kubernetes.io/tls"
    assert secret.inputs["immutable"] is True
    assert is_secret(secret.inputs["stringData"])
    data = reveal(secret.inputs["stringData"])
    assert set(data) == TLS_FILES
    assert data["tls.key"] == TLS_PRIVATE_KEY

    pod = deployment(fronted, deployment_name)["spec"]["template"]["spec"]
    secret_name = secret.outputs["metadata"]["name"]
    [volume] = [v for v in pod["volumes"] if v.get("secret", {}).get("secretName") == secret_name]
    [container] = pod["containers"]
    [mount] = [m for m in container["volumeMounts"] if m["name"] == volume["name"]]
    assert mount["readOnly"] is True


def test_no_key_or_certificate_is_in_a_config_map_or_an_environment_value(
    fronted: Deployment,
) -> None:
    # The values the stack's CA and certificates compute (a script may still name PEM headers).
    pem_values = [json.dumps(value)[1:-1] for value in (TLS_PRIVATE_KEY, TLS_CERT)]
    for config_map in fronted.of_type(CONFIG_MAP):
        text = json.dumps(reveal(config_map.inputs))
        for value in pem_values:
            assert value not in text, config_map.name
    for name in ("web", "web-entry"):
        for container in deployment(fronted, name)["spec"]["template"]["spec"]["containers"]:
            for variable in container.get("env", []):
                assert "-----BEGIN" not in json.dumps(variable), variable


def test_the_replicas_serve_tls_on_their_port_and_liveness_on_an_unpublished_one(
    fronted: Deployment,
) -> None:
    [web] = deployment(fronted, "web")["spec"]["template"]["spec"]["containers"]
    env = {v["name"]: v.get("value") for v in web["env"]}
    assert env["TLS_DIR"] == TLS_DIR
    assert env["PROBE_PORT"] == str(PROBE_PORT)
    # Only the app's port is declared, so only it is published on an ACI group's IP.
    assert [p["containerPort"] for p in web["ports"]] == [8080]
    for kind in ("readinessProbe", "livenessProbe"):
        assert web[kind]["httpGet"] == {"path": "/livez", "port": PROBE_PORT, "scheme": "HTTP"}


def test_the_proxy_checks_the_replicas_name_over_tls_with_its_client_certificate(
    fronted: Deployment,
) -> None:
    [config_map] = [
        r for r in fronted.of_type(CONFIG_MAP) if "envoy.json" in reveal(r.inputs["data"])
    ]
    config = json.loads(reveal(config_map.inputs["data"])["envoy.json"])
    [cluster] = config["static_resources"]["clusters"]
    context = cluster["transport_socket"]["typed_config"]
    assert context["sni"] == REPLICA_SERVER_NAME
    validation = context["common_tls_context"]["validation_context"]
    assert validation["trusted_ca"] == {"filename": "/etc/envoy-tls/ca.crt"}
    assert validation["match_typed_subject_alt_names"] == [
        {"san_type": "DNS", "matcher": {"exact": REPLICA_SERVER_NAME}}
    ]
    [pair] = context["common_tls_context"]["tls_certificates"]
    assert pair["private_key"] == {"filename": "/etc/envoy-tls/tls.key"}


def test_credential_rotation_replaces_both_leaf_keys_and_not_the_ca() -> None:
    rotated = run_program({**BURST, "gke-aci:credentialRotation": "2"})
    triggers = {
        r.name: r.replacement_trigger for r in rotated.of_type(PRIVATE_KEY) if "todo-tls" in r.urn
    }
    assert triggers == {"todo-tls-ca": None, "todo-tls-replica": "2", "todo-tls-entry": "2"}


def test_on_a_first_preview_the_certificates_are_unknown_and_still_secret() -> None:
    preview = run_program(BURST, preview=True)
    secret = tls_secret(preview, "todo-tls")
    assert is_secret(secret.inputs["stringData"])
    # The keys and certificates are computed at creation: not known on a first preview.
    assert reveal(secret.inputs["stringData"]) == UNKNOWN
    # The pods already mount the Secret read-only and serve TLS.
    pod = deployment(preview, "web")["spec"]["template"]["spec"]
    assert "tls" in {v["name"] for v in pod["volumes"]}
    [web] = pod["containers"]
    assert {"name": "TLS_DIR", "value": TLS_DIR} in web["env"]


@pytest.mark.parametrize(
    "config",
    [{}, {**BURST, "gke-aci:appImage": "janakiramm/todo"}],
    ids=["single-pod", "app-image-behind-the-entry-point"],
)
def test_no_mutual_tls_for_the_single_pod_or_an_image_the_stack_did_not_build(
    config: dict[str, str],
) -> None:
    stack = run_program(config)
    assert not [r for r in stack.registrations if "todo-tls" in r.urn]
    assert not [r for r in stack.of_type(SECRET) if r.name == "todo-entry-tls"]
    workloads = [*stack.of_type("kubernetes:core/v1:Pod"), *stack.of_type(DEPLOYMENT)]
    assert "TLS_DIR" not in json.dumps(reveal([w.inputs for w in workloads]))


def _settings(config: dict[str, str]) -> Settings:
    return load_settings({**BASE_CONFIG, **config}.get)


@pytest.mark.parametrize("config", FRONTED, ids=["burst", "aci-replicas"])
def test_the_aci_rules_accept_every_pod_of_both_fronted_modes(config: dict[str, str]) -> None:
    settings = _settings(config)
    assert mutual_tls(settings.app, OWN_APP)
    app = settings.app
    inputs = placeholder_inputs("aci-connector", private_registry=True)
    workload = web_workload_object(app, OWN_APP, inputs)
    assert aci_violations(workload, [virtual_node("aci-connector")], is_not_known_yet) == []
    assert aci_problems(settings, frozenset()) == []


def test_the_single_pod_stays_plain_http() -> None:
    assert not mutual_tls(_settings({}).app, OWN_APP)
    assert not mutual_tls(_settings(BURST).app, contract_for("janakiramm/todo"))


def test_the_app_port_may_not_be_the_probe_port_behind_the_entry_point() -> None:
    with pytest.raises(ConfigError) as raised:
        _settings({**BURST, "gke-aci:appPort": str(PROBE_PORT)})
    [problem] = [p for p in raised.value.problems if p.startswith("gke-aci:appPort")]
    assert problem.startswith(f"gke-aci:appPort: got '{PROBE_PORT}'; allowed: any port from 1024")
    # The single pod has no probe port: any port is its own.
    assert _settings({"gke-aci:appPort": str(PROBE_PORT)}).app.port == PROBE_PORT
