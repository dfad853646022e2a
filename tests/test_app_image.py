"""Our app shipped inside the graph: registry, build and push, pull credential, digest, probe."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest
from fake_cloud import (
    IMAGE_DIGEST,
    POD_UID,
    PROJECT_DIR,
    REGISTRY_PULL_PASSWORD,
    REGISTRY_PUSH_PASSWORD,
    SUBSCRIPTION_ID,
    UNKNOWN,
    Deployment,
    client_id_of,
    is_secret,
    principal_id_of,
    reveal,
    run_program,
)

from components.app_image import SOURCE_DATE_EPOCH, registry_name
from components.service_principal import ACR_PULL, ACR_PUSH

REGISTRY = "azure-native:containerregistry:Registry"
IMAGE = "docker-build:index:Image"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
POD = "kubernetes:core/v1:Pod"
SECRET = "kubernetes:core/v1:Secret"


@pytest.fixture
def stack() -> Deployment:
    return run_program()


def web_container(stack: Deployment) -> dict[str, Any]:
    [container] = reveal(stack.one(POD).inputs["spec"])["containers"]
    return container


def login_server(stack: Deployment) -> str:
    return reveal(stack.one(REGISTRY).outputs["loginServer"])


def test_a_basic_registry_without_admin_user_in_the_resource_group(stack: Deployment) -> None:
    registry = stack.one(REGISTRY)
    group = stack.one("azure-native:resources:ResourceGroup")
    assert registry.inputs["sku"] == {"name": "Basic"}
    assert registry.inputs["adminUserEnabled"] is False
    assert registry.inputs["resourceGroupName"] == reveal(group.outputs["name"])
    assert registry.inputs["registryName"] == registry_name(group.id)


def test_registry_names_are_valid_stable_and_per_resource_group() -> None:
    first = registry_name("/subscriptions/s/resourceGroups/gke-aci-1")
    assert re.fullmatch(r"[a-z0-9]{5,50}", first)
    assert registry_name("/subscriptions/s/resourceGroups/gke-aci-1") == first
    assert registry_name("/subscriptions/s/resourceGroups/gke-aci-2") != first


def test_the_image_is_built_from_app_for_amd64_and_pushed_to_the_registry(
    stack: Deployment,
) -> None:
    image = stack.one(IMAGE).inputs
    # Relative paths: the same inputs on every machine, so an unchanged tree gives no diff.
    assert image["context"] == {"location": "app"}
    assert image["dockerfile"] == {"location": "app/Dockerfile"}
    assert (PROJECT_DIR / image["dockerfile"]["location"]).is_file()
    assert image["platforms"] == ["linux/amd64"]
    assert image["push"] is True
    assert image["buildOnPreview"] is False
    assert image["tags"] == [f"{login_server(stack)}/todo:latest"]
    [registry] = image["registries"]
    assert registry["address"] == login_server(stack)


# --- the same app/ gives the same image (docs/decisions/0009-reproducible-app-image.md) --------

APP_DIR = PROJECT_DIR / "app"


def dockerfile_stages() -> tuple[str, list[list[tuple[str, str]]]]:
    """The syntax directive, and each stage's instructions as (keyword, arguments)."""
    text = (APP_DIR / "Dockerfile").read_text()
    [syntax] = re.findall(r"^# syntax=(\S+)$", text, re.MULTILINE)
    logical = re.sub(r"\\\n", " ", "\n".join(
        line for line in text.splitlines() if not line.lstrip().startswith("#")
    ))  # fmt: skip
    stages: list[list[tuple[str, str]]] = [[]]
    for line in filter(str.strip, logical.splitlines()):
        keyword, _, arguments = line.strip().partition(" ")
        if keyword.upper() == "FROM":
            stages.append([])
        stages[-1].append((keyword.upper(), " ".join(arguments.split())))
    return syntax, stages


def test_the_program_and_the_dockerfile_fix_the_same_timestamp(stack: Deployment) -> None:
    assert stack.one(IMAGE).inputs["buildArgs"] == {"SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH}
    assert SOURCE_DATE_EPOCH.isdigit()
    _, (global_args, *_) = dockerfile_stages()
    assert ("ARG", f"SOURCE_DATE_EPOCH={SOURCE_DATE_EPOCH}") in global_args


def test_no_file_mode_or_time_from_the_checkout_or_the_build_reaches_the_image() -> None:
    syntax, (_, *stages) = dockerfile_stages()
    # The frontend is pinned to a minor, one that reads SOURCE_DATE_EPOCH (1.5+).
    match = re.fullmatch(r"docker/dockerfile:1\.(\d+)", syntax)
    assert match, syntax
    assert int(match[1]) >= 5, syntax
    for stage in stages:
        if any(keyword == "RUN" for keyword, _ in stage):
            # In RUN's environment: hash-based .pyc files, the account's date from useradd.
            first_run = [keyword for keyword, _ in stage].index("RUN")
            assert ("ARG", "SOURCE_DATE_EPOCH") in stage[:first_run], stage[0]
        assert all(keyword != "ADD" for keyword, _ in stage)
    runtime, image = stages[-2], stages[-1]
    assert runtime[0] == ("FROM", "${PYTHON_IMAGE} AS runtime")
    # The runtime stage ends by fixing the modes of the sources it copied, whatever the
    # checkout's umask, and by giving every file it wrote or copied the fixed time...
    keyword, last = runtime[-1]
    assert keyword == "RUN"
    assert ("COPY", "todo/ /app/todo/") in runtime
    assert "chmod -R u=rwX,go=rX /app" in last
    assert 'touch --date="@${SOURCE_DATE_EPOCH}"' in last
    assert '-newermt "@${SOURCE_DATE_EPOCH}"' in last
    assert last.index("chmod") < last.index("touch")
    # ...and the image is that file system as one layer: no layer of the build, with its
    # directories and whiteouts stamped at build time, reaches it.
    assert image[0] == ("FROM", "scratch")
    changes = [(k, a) for k, a in image if k in {"COPY", "ADD", "RUN"}]
    assert changes == [("COPY", "--from=runtime / /")]
    # It still runs as before: unprivileged, on 8080, from the venv.
    assert ("USER", "10001:10001") in image
    assert ("EXPOSE", "8080") in image
    [env] = [a for k, a in image if k == "ENV"]
    assert env.startswith("PATH=/opt/venv/bin:")


def test_the_context_holds_only_the_sources() -> None:
    rules = [
        line.strip()
        for line in (APP_DIR / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert rules[:4] == ["*", "!requirements.txt", "!constraints.txt", "!todo/"]
    # Nothing a test run or an editor leaves in a working tree; later rules win, so these come
    # after the sources are let in.
    assert set(rules[4:]) == {"**/__pycache__", "**/*.pyc", "**/.*", "**/*~"}


def test_the_push_credential_is_push_only_and_stays_with_the_build(stack: Deployment) -> None:
    [registry] = stack.one(IMAGE).inputs["registries"]
    assert registry["username"] == client_id_of("app-push")
    assert is_secret(registry["password"])
    assert reveal(registry["password"]) == REGISTRY_PUSH_PASSWORD
    push = stack.one(ROLE_ASSIGNMENT, "app-push").inputs
    assert push["principalId"] == principal_id_of("app-push")
    assert push["roleDefinitionId"].endswith(f"/roleDefinitions/{ACR_PUSH}")
    assert push["scope"] == stack.one(REGISTRY).id
    # Nothing on the cluster ever holds the push password.
    for resource in stack.registrations:
        if resource.type.startswith("kubernetes:"):
            assert REGISTRY_PUSH_PASSWORD not in json.dumps(reveal(resource.inputs))


def test_the_pod_pulls_with_a_pull_only_secret_credential(stack: Deployment) -> None:
    pull = stack.one(ROLE_ASSIGNMENT, "app-pull").inputs
    assert pull["principalId"] == principal_id_of("app-pull")
    assert pull["roleDefinitionId"] == (
        f"/subscriptions/{SUBSCRIPTION_ID}/providers/Microsoft.Authorization/roleDefinitions/"
        f"{ACR_PULL}"
    )
    assert pull["scope"] == stack.one(REGISTRY).id
    secret = stack.one(SECRET, "todo-registry")
    assert secret.inputs["type"] == "kubernetes.io/dockerconfigjson"
    assert is_secret(secret.inputs["stringData"])
    config = json.loads(reveal(secret.inputs["stringData"])[".dockerconfigjson"])
    username = client_id_of("app-pull")
    assert config == {
        "auths": {
            login_server(stack): {
                "username": username,
                "password": REGISTRY_PULL_PASSWORD,
                "auth": base64.b64encode(f"{username}:{REGISTRY_PULL_PASSWORD}".encode()).decode(),
            }
        }
    }
    spec = reveal(stack.one(POD).inputs["spec"])
    assert spec["imagePullSecrets"] == [{"name": reveal(secret.outputs["metadata"])["name"]}]
    # The pull credential is usable only once its role exists; the pod waits for that.
    assert stack.one(ROLE_ASSIGNMENT, "app-pull").urn in stack.transitive_dependencies(
        stack.one(POD)
    )


def test_the_pod_runs_the_image_by_digest(stack: Deployment) -> None:
    assert web_container(stack)["image"] == f"{login_server(stack)}/todo@{IMAGE_DIGEST}"
    assert stack.one(IMAGE).urn in stack.one(POD).all_dependencies()


def test_the_pod_declares_readiness_and_liveness_probes(stack: Deployment) -> None:
    container = web_container(stack)
    assert container["readinessProbe"]["httpGet"] == {
        "path": "/healthz",
        "port": 8080,
        "scheme": "HTTP",
    }
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    # azure-aci maps exec and httpGet probes only; a tcpSocket probe would be rejected.
    assert "tcpSocket" not in container["readinessProbe"]
    assert stack.one(POD).custom_timeouts["create"] == "10m"


def test_the_default_port_is_the_one_the_image_listens_on(stack: Deployment) -> None:
    dockerfile = (PROJECT_DIR / "app" / "Dockerfile").read_text()
    assert "EXPOSE 8080" in dockerfile
    assert re.search(r"^USER [1-9][0-9]*", dockerfile, re.MULTILINE), "runs as non-root"
    assert web_container(stack)["ports"][0]["containerPort"] == 8080


def test_the_build_and_push_wait_only_for_azure(stack: Deployment) -> None:
    image = stack.one(IMAGE)
    waits_for = {
        stack.by_urn[u].type for u in stack.transitive_dependencies(image) if u in stack.by_urn
    }
    assert REGISTRY in waits_for
    assert not {t for t in waits_for if t.startswith(("gcp:", "kubernetes:", "pulumi:providers"))}
    # And nothing on GCP waits for the image.
    for resource in stack.custom_resources():
        if resource.type.startswith("gcp:"):
            assert image.urn not in stack.transitive_dependencies(resource)


def test_an_app_image_setting_skips_the_registry_and_the_build() -> None:
    stack = run_program({"gke-aci:appImage": "ghcr.io/example/todo:2"})
    assert stack.of_type(REGISTRY) == []
    assert stack.of_type(IMAGE) == []
    # No registry identities and no pull Secret: nothing of the registry path is left.
    assert not {"app-push", "app-pull"} & {r.name for r in stack.of_type(ROLE_ASSIGNMENT)}
    assert "todo-registry" not in {r.name for r in stack.of_type(SECRET)}
    spec = reveal(stack.one(POD).inputs["spec"])
    [container] = spec["containers"]
    assert container["image"] == "ghcr.io/example/todo:2"
    assert "imagePullSecrets" not in spec
    assert "readinessProbe" not in container


def test_the_first_preview_does_not_need_the_image() -> None:
    preview = run_program(preview=True)
    assert preview.one(IMAGE).inputs["buildOnPreview"] is False
    # Named by a digest only the build knows: unknown in a preview, never a made-up tag.
    assert reveal(preview.one(POD).inputs["spec"])["containers"][0]["image"] == UNKNOWN


GATE = "pulumi-python:dynamic/http:ReadinessGate"


def test_the_deployment_finishes_only_when_the_app_reaches_its_database(
    stack: Deployment,
) -> None:
    # The connector marks the pod Ready when the container runs, whatever the probe says; the
    # gate polls /healthz (200 only once the database answers) from the deploying machine.
    gate = stack.one(GATE)
    assert gate.inputs["url"] == f"{stack.stack_outputs['webUrl']}/healthz"
    assert gate.inputs["revision"] == POD_UID
    assert gate.inputs["timeout_seconds"] == 600
    assert stack.one(POD).urn in gate.all_dependencies()
    assert stack.one(POD).urn in stack.transitive_dependencies(gate)


def test_images_without_a_health_endpoint_get_no_gate() -> None:
    assert run_program({"gke-aci:appImage": "janakiramm/todo"}).of_type(GATE) == []
