"""The stack's configuration, read and validated in one place.

Every setting is declared in ``Pulumi.yaml`` (type, default, description); this module reads the
stack's values, checks each one and returns a frozen :class:`Settings`. Components receive typed
values from it and never read ``pulumi.Config`` themselves.

Validation happens before any resource is registered, and every problem is reported at once in a
single :class:`ConfigError` (a ``pulumi.RunError``, which Pulumi prints without a traceback) that
names the key, the value given and what is allowed. A key in the project's namespace that
``Pulumi.yaml`` does not declare is such a problem too (a misspelt setting would otherwise be
ignored silently, since the Pulumi CLI validates only the keys a project declares).

Why no validation library (pydantic was weighed): most of this module is the wording of what is
allowed and the checks across settings (a DNS label only with one pod, a rollout within the ACI
quota, the app's pods against the ACI rules); a model would still need those, and its errors
name a field path and a type, not the stack key with the value as the stack file wrote it and
what to write instead, with a did-you-mean for a misspelt key. The readers below keep that in
one short class.
"""

from __future__ import annotations

import difflib
import functools
import importlib.util
import ipaddress
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Final, TypeVar

import pulumi
import yaml

from core.aci_rules import QuantityError, parse_quantity
from core.aci_rules.regions import ACI_REGIONS, SOVEREIGN_CLOUD_REGIONS
from core.app_contract import PROBE_PORT
from dynamic.provider_registration import AZURE_NATIVE_AUTH, AZURE_NATIVE_SECRET_AUTH
from pulumi_internals import CONFIG, get_config_env
from specs.gke_identity import IdentityProblem, KubeconfigAuth, kubeconfig_auth

PROJECT: Final = "gke-aci"
# Declares every setting (type, default, description); the one list of what may be set.
PROJECT_FILE: Final = Path(__file__).resolve().parent / "Pulumi.yaml"

# The seed tutorial's locations; provider keys, which Pulumi.yaml cannot give a default.
DEFAULT_GCP_ZONE: Final = "us-west1-a"
DEFAULT_AZURE_LOCATION: Final = "westus"
# The first port a non-root process may bind.
UNPRIVILEGED_PORTS: Final = 1024

# GCP project ids: 6-30 characters, lowercase letters, digits and hyphens, starting with a letter.
_GCP_PROJECT = re.compile(r"[a-z][a-z0-9-]{4,28}[a-z0-9]")
# A GCP zone: region plus a one-letter suffix, for example us-west1-a.
_GCP_ZONE = re.compile(r"[a-z]+-[a-z]+[0-9]+-[a-z]")
# Machine types such as e2-standard-2, n2d-highmem-8 or custom-4-8192.
_MACHINE_TYPE = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)+")
# A Compute Engine resource name (RFC 1035 label), such as a Cloud Router's.
_GCE_NAME = re.compile(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?")
# GKE's smallest boot disk is 10 GB (terraform-provider-google v7.45.0 node_config.go,
# disk_size_gb); the upper bound is a judged guard against a slip, not a GCP limit. The default
# and why it is 50 GB: Pulumi.yaml.
NODE_DISK_GB_RANGE: Final = (10, 1000)
# Azure locations as the ARM API spells them: lowercase, no spaces (westus, eastus2).
_AZURE_LOCATION = re.compile(r"[a-z]+[0-9]*[a-z]*[0-9]*")
# MongoDB database names: no /\. "$*<>:|? and shorter than 64 bytes; kept to a portable subset.
_DATABASE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}")
# A Kubernetes node name is a DNS-1123 subdomain; the virtual node's name is also its hostname
# label, so it is kept to a single DNS-1123 label.
_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
# ACI's DNS name label (InvalidDnsNameLabel): 5-63 characters, letters, digits and hyphens,
# starting with a letter and ending with a letter or digit. Lowercase, as DNS answers it.
_ACI_DNS_LABEL = re.compile(r"[a-z][a-z0-9-]{3,61}[a-z0-9]")
# A container image reference as the distribution grammar has it:
# [registry[:port]/]path[:tag][@algorithm:digest], with a lowercase path.
_IMAGE_REFERENCE = re.compile(
    # A registry is told from a path by a dot, a port or "localhost", as Docker tells them apart.
    r"(?:(?P<registry>(?:[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)+|localhost)(?::[0-9]+)?"
    r"|[a-zA-Z0-9-]+:[0-9]+)/)?"
    r"(?P<path>[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?:@(?P<digest>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?"
)


class ConnectorRole(StrEnum):
    """What the connector may do in its resource group."""

    # A role defined by the stack with only the container group actions the connector calls.
    CUSTOM = "custom"
    # The built-in Contributor role, as the seed had it.
    CONTRIBUTOR = "contributor"


class AppPlacement(StrEnum):
    """Where the app's replicas run."""

    # Only on the virtual node, in ACI (the seed's `web` pod when there is one replica).
    ACI = "aci"
    # On the GKE nodes first, overflowing to ACI.
    BURST = "burst"


class NodeDiskType(StrEnum):
    """The Persistent Disk types a GKE node's boot disk may have."""

    # Counts against the region's SSD_TOTAL_GB quota, like pd-ssd.
    BALANCED = "pd-balanced"
    # Counts against DISKS_TOTAL_GB instead: the choice when the SSD quota is tight.
    STANDARD = "pd-standard"
    SSD = "pd-ssd"


class CapacityMode(StrEnum):
    """How the Cosmos DB account is billed."""

    SERVERLESS = "serverless"
    PROVISIONED = "provisioned"


@dataclass(frozen=True)
class GkeSettings:
    project: str
    zone: str
    node_count: int
    node_machine_type: str
    deletion_protection: bool
    private_nodes: bool
    # CIDR blocks allowed to reach the control plane; empty means no restriction.
    authorized_networks: tuple[str, ...]
    node_disk_size_gb: int
    node_disk_type: NodeDiskType
    # An existing Cloud Router whose NAT already serves the region's subnets (private nodes);
    # None: the stack creates its own router and NAT.
    nat_router: str | None
    # How the kubeconfig signs in: as pulumi-gcp does (specs/gke_identity.py).
    kubeconfig_auth: KubeconfigAuth

    @property
    def region(self) -> str:
        return self.zone.rsplit("-", 1)[0]


@dataclass(frozen=True)
class CosmosSettings:
    location: str
    database_name: str
    capacity_mode: CapacityMode
    # Request units per second of the shared database throughput; only for provisioned mode.
    provisioned_throughput: int
    protect: bool


@dataclass(frozen=True)
class AciQuota:
    """The capacity the virtual node advertises (ACI_QUOTA_CPU, ACI_QUOTA_MEMORY, ACI_QUOTA_POD)."""

    # Kubernetes quantities, as the connector parses them (resource.MustParse, vk_node.go 42-44).
    cpu: str
    memory: str
    pods: int


@dataclass(frozen=True)
class ConnectorSettings:
    image: str
    virtual_node_name: str
    aci_region: str
    role: ConnectorRole
    quota: AciQuota
    # The image the node guard runs in, its own Deployment (components/node_guard.py).
    node_guard_image: str
    # The image of the serving-certificate step and its approver (kubelet_serving/).
    kubelet_serving_image: str


@dataclass(frozen=True)
class CredentialSettings:
    """How the service principals' passwords are rotated."""

    # Changing it replaces every password now.
    rotation: str
    # A password is replaced on the first `pulumi up --refresh` after this many days.
    rotation_days: int


@dataclass(frozen=True)
class AppSettings:
    # None: build and ship our own app (app/); otherwise run this image as it is.
    image: str | None
    port: int
    dns_label: str | None
    placement: AppPlacement
    replicas: int
    # Each replica's CPU and memory (requests, and limits equal to them), Kubernetes quantities.
    cpu: str
    memory: str
    entry_proxy_image: str

    @property
    def single_pod(self) -> bool:
        """The seed's shape: one `web` pod on the virtual node, reached at its own IP."""
        return self.placement is AppPlacement.ACI and self.replicas == 1


@dataclass(frozen=True)
class Settings:
    gke: GkeSettings
    cosmos: CosmosSettings
    connector: ConnectorSettings
    credentials: CredentialSettings
    app: AppSettings
    # The stack's non-secret `azure-native:*` sign-in settings (clientId, useOidc, ...), which
    # the resource provider registration follows to sign in as azure-native does.
    azure_auth: Mapping[str, str]


class ConfigError(pulumi.RunError):
    """One or more configuration values are invalid; Pulumi prints this without a traceback."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"invalid stack configuration:\n{lines}")


E = TypeVar("E", bound=StrEnum)
ConfigLookup = Callable[[str], str | None]
# A check of the settings as a whole: its problems, one line each, given the settings (a refused
# value replaced by its default) and the keys already refused, which it should not report again.
SettingsCheck = Callable[["Settings", frozenset[str]], list[str]]


class _Reader:
    """Reads raw string values and records every problem instead of stopping at the first."""

    def __init__(self, lookup: ConfigLookup, defaults: Mapping[str, str]) -> None:
        self._lookup = lookup
        self._defaults = defaults
        self.problems: list[str] = []
        # The keys whose value was refused (and replaced by its default meanwhile).
        self.refused: set[str] = set()

    def raw(self, key: str) -> str | None:
        """The value set for ``key``, else the default Pulumi.yaml declares; None when blank."""
        value = self._lookup(key)
        if value is None or value.strip() == "":
            value = self._defaults.get(key)
        return None if value is None or value.strip() == "" else value.strip()

    def default(self, key: str) -> str:
        """Pulumi.yaml's default for a setting, what a bad value is replaced with meanwhile."""
        return self._defaults[key]

    def fail(self, key: str, value: object, allowed: str) -> None:
        self.refused.add(key)
        self.problems.append(f"{key}: got {value!r}; allowed: {allowed}")

    def text(
        self, key: str, pattern: re.Pattern[str], allowed: str, default: str | None = None
    ) -> str:
        """A setting that always has a value: Pulumi.yaml's default, or ``default`` for a
        provider's key (``gcp:zone``), which Pulumi.yaml cannot declare."""
        value = self.raw(key)
        if value is None:
            return default if default is not None else self.default(key)
        if not pattern.fullmatch(value):
            self.fail(key, value, allowed)
        return value

    def optional_text(self, key: str, pattern: re.Pattern[str], allowed: str) -> str | None:
        value = self.raw(key)
        if value is not None and not pattern.fullmatch(value):
            self.fail(key, value, allowed)
        return value

    def cidrs(self, key: str) -> tuple[str, ...]:
        """Comma-separated IPv4 CIDR blocks, such as ``203.0.113.0/24,198.51.100.7/32``."""
        value = self.raw(key)
        if value is None:
            return ()
        blocks: list[str] = []
        refused: list[str] = []
        for item in (part.strip() for part in value.split(",")):
            try:
                blocks.append(str(ipaddress.IPv4Network(item, strict=True)))
            except ValueError:
                refused.append(item)
        for item in refused:  # each bad entry by itself, not the whole list
            self.fail(
                key,
                item,
                "comma-separated IPv4 CIDR blocks such as 203.0.113.0/24 (host bits zero), "
                "or unset for no restriction",
            )
        return () if refused else tuple(blocks)

    def quantity(self, key: str, allowed: str) -> str:
        """A positive Kubernetes quantity such as ``500m`` or ``1Gi``."""
        value = self.raw(key)
        default = self.default(key)
        if value is None:
            return default
        try:
            positive = parse_quantity(value) > 0
        except QuantityError:
            positive = False
        if not positive:
            self.fail(key, value, allowed)
            return default
        return value

    def integer(self, key: str, low: int, high: int, step: int = 1) -> int:
        value = self.raw(key)
        default = int(self.default(key))
        if value is None:
            return default
        allowed = f"a whole number from {low} to {high}" + (
            f" in steps of {step}" if step > 1 else ""
        )
        try:
            number = int(value)
        except ValueError:
            self.fail(key, value, allowed)
            return default
        if not low <= number <= high or number % step:
            self.fail(key, value, allowed)
            return default
        return number

    def boolean(self, key: str) -> bool:
        value = self.raw(key)
        default = self.default(key).lower() == "true"
        if value is None:
            return default
        if value.lower() in ("true", "false"):
            return value.lower() == "true"
        self.fail(key, value, "true or false")
        return default

    def choice(self, key: str, enum: type[E]) -> E:
        value = self.raw(key)
        default = enum(self.default(key))
        if value is None:
            return default
        members = [member.value for member in enum]
        if value not in members:
            self.fail(key, value, " or ".join(members))
            return default
        return enum(value)


@functools.cache
def declared_settings(project_file: Path = PROJECT_FILE) -> frozenset[str]:
    """The project's settings as ``Pulumi.yaml`` declares them, without the namespace."""
    declared = (yaml.safe_load(project_file.read_text()) or {}).get("config") or {}
    names: set[str] = set()
    for key in declared:
        namespace, separator, name = str(key).partition(":")
        if not separator:
            names.add(namespace)
        elif namespace == PROJECT:
            names.add(name)
    return frozenset(names)


@functools.cache
def declared_defaults(project_file: Path = PROJECT_FILE) -> Mapping[str, str]:
    """Each setting's default as ``Pulumi.yaml`` declares it, by full key, written as a stack
    file would set it (``true``, ``3``, ``aci-connector``)."""
    declared = (yaml.safe_load(project_file.read_text()) or {}).get("config") or {}
    return {
        f"{PROJECT}:{name}": _as_config_text(declaration["default"])
        for name, declaration in declared.items()
    }


def _as_config_text(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def declared_default(name: str) -> str:
    """The default of one setting (``connectorImage``) as Pulumi.yaml declares it."""
    return declared_defaults()[f"{PROJECT}:{name}"]


# The defaults other modules and the tests name, as Pulumi.yaml declares them.
DEFAULT_CONNECTOR_IMAGE: Final = declared_default("connectorImage")
DEFAULT_ENTRY_PROXY_IMAGE: Final = declared_default("entryProxyImage")
DEFAULT_NODE_GUARD_IMAGE: Final = declared_default("nodeGuardImage")
DEFAULT_KUBELET_SERVING_IMAGE: Final = declared_default("kubeletServingImage")


def unknown_settings(keys: Iterable[str], declared: Iterable[str]) -> list[str]:
    """One problem for each key in the project's namespace that is not declared, and for each key
    of a provider the program configures (``gcp:``, ``azure-native:``) that the provider does not
    read (``gcp:zonee`` would otherwise leave the zone at its default without a word).

    Keys of other namespaces are left alone. Each problem names the key it most resembles: the
    same name in another case first, else the closest spelling.
    """
    problems: list[str] = []
    for full_key in sorted(set(keys)):
        namespace, separator, name = full_key.partition(":")
        if not separator:
            continue
        if namespace == PROJECT:
            known, what = frozenset(declared), "a setting of this project"
            elsewhere = "see the settings declared in Pulumi.yaml"
        elif namespace in PROVIDER_PACKAGES:
            known, what = provider_config_keys(namespace), f"a setting of the {namespace} provider"
            elsewhere = f"see the {namespace} provider's configuration reference"
        else:
            continue
        if name in known:
            continue
        match = _closest(name, known)
        hint = f"did you mean {namespace}:{match}?" if match else elsewhere
        if namespace == PROJECT and match:
            hint = f"did you mean {match}?"
        problems.append(f"{full_key}: not {what}; {hint}")
    return problems


def _closest(name: str, known: Iterable[str]) -> str | None:
    by_lower = {key.lower(): key for key in known}
    close = difflib.get_close_matches(name.lower(), sorted(by_lower), n=1, cutoff=0.6)
    return by_lower.get(name.lower()) or (by_lower[close[0]] if close else None)


# The providers whose configuration the program reads, by namespace: their SDK's package.
PROVIDER_PACKAGES: Final = {"gcp": "pulumi_gcp", "azure-native": "pulumi_azure_native"}
# How a provider SDK's config module reads each of its keys: ``__config__.get('zone')``.
_CONFIG_READ = re.compile(r"__config__\.get(?:_[a-z]+)?\('([A-Za-z0-9_]+)'\)")


@functools.cache
def provider_config_keys(namespace: str) -> frozenset[str]:
    """The configuration keys a provider reads, from its installed SDK's ``config/vars.py``.

    Pulumi's code generator writes one ``__config__.get('<key>')`` per key of the provider's
    schema there; the file is read as text so that no provider module is imported for it.
    """
    spec = importlib.util.find_spec(PROVIDER_PACKAGES[namespace])
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(f"{PROVIDER_PACKAGES[namespace]} is not installed")
    source = (Path(spec.origin).parent / "config" / "vars.py").read_text()
    return frozenset(_CONFIG_READ.findall(source))


def load_settings(
    lookup: ConfigLookup | None = None,
    keys: Iterable[str] | None = None,
    environ: Mapping[str, str] | None = None,
    checks: Sequence[SettingsCheck] = (),
) -> Settings:
    """Reads and validates the stack's configuration.

    ``lookup`` maps a full key (``gke-aci:nodeCount``, ``gcp:zone``) to its raw value or ``None``;
    ``keys`` are every key the stack sets, checked against the settings ``Pulumi.yaml`` declares.
    By default both come from the running stack's configuration; with a ``lookup`` and no
    ``keys``, only the values are checked. ``environ`` (default: this process's environment) is
    where pulumi-gcp finds credentials the stack does not set. ``checks`` judge the settings as a
    whole (what ACI would refuse of the app's pods), so that every problem comes in one run.
    """
    if keys is None and lookup is None:
        keys = _stack_config_keys()
    reader = _Reader(lookup or _stack_config, declared_defaults())
    reader.problems.extend(unknown_settings(keys or (), declared_settings()))
    key = f"{PROJECT}:{{}}".format

    project = reader.raw("gcp:project")
    if project is None:
        reader.problems.append(
            "gcp:project: not set; set it to your Google Cloud project id with "
            "`pulumi config set gcp:project <your-project-id>`"
        )
        project = ""
    elif not _GCP_PROJECT.fullmatch(project):
        reader.fail(
            "gcp:project",
            project,
            "a Google Cloud project id: 6-30 lowercase letters, digits and hyphens, "
            "starting with a letter",
        )
    zone = reader.text(
        "gcp:zone",
        _GCP_ZONE,
        "a GCP zone such as us-west1-a (region-zone letter)",
        default=DEFAULT_GCP_ZONE,
    )
    location = reader.text(
        "azure-native:location",
        _AZURE_LOCATION,
        "an Azure location name in lowercase without spaces, such as westus",
        default=DEFAULT_AZURE_LOCATION,
    )

    gke = _gke_settings(reader, project, zone, os.environ if environ is None else environ)

    capacity_mode = reader.choice(key("cosmosCapacityMode"), CapacityMode)
    cosmos = CosmosSettings(
        location=location,
        database_name=reader.text(
            key("cosmosDatabaseName"),
            _DATABASE_NAME,
            "1-63 letters, digits, '-' or '_', starting with a letter or digit",
        ),
        capacity_mode=capacity_mode,
        provisioned_throughput=reader.integer(
            key("cosmosProvisionedThroughput"), 400, 1_000_000, step=100
        ),
        protect=reader.boolean(key("protectDatabase")),
    )

    explicit_region = reader.raw(key("aciRegion"))
    aci_region = explicit_region or location
    # An invalid location has been reported already; don't report it twice as a region.
    if aci_region not in ACI_REGIONS and (explicit_region or _AZURE_LOCATION.fullmatch(location)):
        sovereign = (
            "a public-cloud region (the connector signs in to the Azure public cloud only, so "
            "not a US Government or China one): "
            if aci_region in SOVEREIGN_CLOUD_REGIONS
            else ""
        )
        reader.fail(
            key("aciRegion") if explicit_region else "azure-native:location",
            aci_region,
            sovereign + "a region the ACI connector accepts: " + ", ".join(sorted(ACI_REGIONS)),
        )
    connector = ConnectorSettings(
        image=reader.text(
            key("connectorImage"),
            _IMAGE_REFERENCE,
            "a container image reference such as registry/name:tag",
        ),
        virtual_node_name=reader.text(
            key("virtualNodeName"),
            _DNS1123_LABEL,
            "a DNS-1123 label: 1-63 lowercase letters, digits and '-', "
            "starting and ending with a letter or digit",
        ),
        aci_region=aci_region,
        role=reader.choice(key("connectorRole"), ConnectorRole),
        # A standard subscription's regional ACI quota: 100 cores and 100 container groups
        # (Learn "Resource availability & quota limits for ACI", 2025-11-17). ACI has no memory
        # quota, so the memory default is the connector's own (vk_node.go 131).
        quota=AciQuota(
            cpu=str(reader.integer(key("aciQuotaCpu"), 1, 10_000)),
            memory=reader.quantity(
                key("aciQuotaMemory"),
                "a positive Kubernetes memory quantity such as 400Gi or 4Ti",
            ),
            pods=reader.integer(key("aciQuotaPods"), 1, 5_000),
        ),
        node_guard_image=reader.text(
            key("nodeGuardImage"),
            _IMAGE_REFERENCE,
            "a container image reference such as registry/name:tag, with a python interpreter "
            "on its PATH",
        ),
        kubelet_serving_image=reader.text(
            key("kubeletServingImage"),
            _IMAGE_REFERENCE,
            "a container image reference such as registry/name:tag, with python and openssl on "
            "its PATH",
        ),
    )
    credentials = CredentialSettings(
        rotation=reader.text(
            key("credentialRotation"),
            re.compile(r"[A-Za-z0-9._-]{1,64}"),
            "1-64 letters, digits, '.', '_' or '-' (change it to replace the service principals' "
            "passwords)",
        ),
        rotation_days=reader.integer(key("credentialRotationDays"), 7, 365),
    )

    app = AppSettings(
        # Unset: build our own app from app/ (see components/app_image.py).
        image=reader.optional_text(
            key("appImage"),
            _IMAGE_REFERENCE,
            "a container image reference such as registry/name:tag "
            "(or unset to build the app in app/)",
        ),
        port=reader.integer(key("appPort"), 1, 65535),
        dns_label=reader.optional_text(
            key("aciDnsLabel"),
            _ACI_DNS_LABEL,
            "5-63 lowercase letters, digits and '-', starting with a letter and ending with "
            "a letter or digit (or unset for no DNS name)",
        ),
        placement=reader.choice(key("appPlacement"), AppPlacement),
        replicas=reader.integer(key("appReplicas"), 1, 100),
        # The ACI rules (core/aci_rules) decide what ACI accepts; here only the syntax.
        cpu=reader.quantity(key("appCpu"), "a positive Kubernetes CPU quantity such as 1 or 1500m"),
        memory=reader.quantity(
            key("appMemory"), "a positive Kubernetes memory quantity such as 1Gi"
        ),
        entry_proxy_image=reader.text(
            key("entryProxyImage"),
            _IMAGE_REFERENCE,
            "a container image reference such as registry/name:tag (an Envoy image)",
        ),
    )

    if app.image is None and app.port < UNPRIVILEGED_PORTS:
        # Our image runs as a non-root user, and ACI grants no capability to bind a low port.
        reader.fail(
            key("appPort"),
            str(app.port),
            f"{UNPRIVILEGED_PORTS}-65535 for the app built from app/, which runs as a non-root "
            "user (any port with appImage)",
        )

    if app.image is None and not app.single_pod and app.port == PROBE_PORT:
        # Behind the entry point our app answers liveness in plain HTTP on this port
        # (docs/decisions/0022-mutual-tls-to-replicas.md).
        reader.fail(
            key("appPort"),
            str(app.port),
            f"any port from {UNPRIVILEGED_PORTS} to 65535 but {PROBE_PORT}, which the app built "
            "from app/ keeps for its probes behind the entry point",
        )

    if app.placement is AppPlacement.ACI and not app.single_pod:
        _check_rollout_fits_the_quota(reader, app, connector.quota)

    if app.dns_label and not app.single_pod:
        # The label is unique in the region: one pod may carry it, and with several replicas
        # the entry point's load balancer is the public address.
        reader.fail(
            key("aciDnsLabel"),
            app.dns_label,
            "unset unless appPlacement is aci and appReplicas is 1 (the single web pod)",
        )

    settings = Settings(
        gke=gke,
        cosmos=cosmos,
        connector=connector,
        credentials=credentials,
        app=app,
        azure_auth=_azure_native_auth(reader),
    )
    for check in checks:
        reader.problems.extend(check(settings, frozenset(reader.refused)))
    if reader.problems:
        raise ConfigError(reader.problems)
    return settings


def _azure_native_auth(reader: _Reader) -> dict[str, str]:
    """The ``azure-native:*`` sign-in settings the stack sets, for the registration step.

    That step runs in its own process (dynamic/provider_registration.py) and gets only its
    resource inputs and the environment. A secret setting would be kept in the stack's state as
    an input, so it is refused here with the environment variable azure-native reads instead.
    """
    auth: dict[str, str] = {}
    for name, variable in AZURE_NATIVE_AUTH.items():
        key = f"azure-native:{name}"
        value = reader.raw(key)
        if value is None:
            continue
        if name in AZURE_NATIVE_SECRET_AUTH:
            # The value is a secret: named, never shown.
            reader.problems.append(
                f"{key}: set in the stack's configuration; allowed: unset, with {variable} in "
                "the environment instead (azure-native reads it there too), since the step that "
                "registers Azure resource providers could only get it through the stack's state"
            )
            continue
        auth[name] = value
    return auth


def _gke_settings(
    reader: _Reader, project: str, zone: str, environ: Mapping[str, str]
) -> GkeSettings:
    key = f"{PROJECT}:{{}}".format
    private_nodes = reader.boolean(key("privateNodes"))
    nat_router = reader.optional_text(
        key("natRouter"),
        _GCE_NAME,
        "the name of an existing Cloud Router in the cluster's region (1-63 lowercase letters, "
        "digits and '-', starting with a letter), or unset for a router and NAT of the stack's own",
    )
    # A malformed name has been reported already; don't report it twice.
    if nat_router and not private_nodes and _GCE_NAME.fullmatch(nat_router):
        reader.fail(
            key("natRouter"),
            nat_router,
            "unset unless privateNodes is true (only private nodes need Cloud NAT)",
        )
    auth = kubeconfig_auth(lambda name: reader.raw(name), environ)
    if isinstance(auth, IdentityProblem):
        reader.problems.append(auth.line())
        auth = KubeconfigAuth(args=())
    return GkeSettings(
        project=project,
        zone=zone,
        node_count=reader.integer(key("nodeCount"), 1, 1000),
        node_machine_type=reader.text(
            key("nodeMachineType"),
            _MACHINE_TYPE,
            "a Compute Engine machine type such as e2-standard-2",
        ),
        deletion_protection=reader.boolean(key("protectCluster")),
        private_nodes=private_nodes,
        authorized_networks=reader.cidrs(key("authorizedNetworks")),
        node_disk_size_gb=reader.integer(key("nodeDiskSizeGb"), *NODE_DISK_GB_RANGE),
        node_disk_type=reader.choice(key("nodeDiskType"), NodeDiskType),
        nat_router=nat_router,
        kubeconfig_auth=auth,
    )


def _check_rollout_fits_the_quota(reader: _Reader, app: AppSettings, quota: AciQuota) -> None:
    """All replicas in ACI, plus the one more a rollout starts, fit the virtual node's capacity.

    The Deployment rolls with maxSurge 1 and maxUnavailable 0 (specs/web_workload.py), and
    the scheduler keeps a pod beyond the virtual node's advertised capacity (the aciQuota*
    settings) Pending, so a stack filled to the quota could never roll out a change. In burst mode
    the GKE nodes take part of the load, so no such bound can be known here.
    """
    try:
        # (setting, its value as written, its value, what one replica takes of it)
        fits = [
            ("aciQuotaPods", str(quota.pods), Decimal(quota.pods), Decimal(1)),
            ("aciQuotaCpu", quota.cpu, parse_quantity(quota.cpu), parse_quantity(app.cpu)),
            (
                "aciQuotaMemory",
                quota.memory,
                parse_quantity(quota.memory),
                parse_quantity(app.memory),
            ),
        ]
    except QuantityError:
        return  # reported already as a bad quantity
    most = min(int(capacity // each) for _, _, capacity, each in fits) - 1
    if app.replicas > most:
        limits = ", ".join(f"{key} {written}" for key, written, _, _ in fits)
        reader.fail(
            f"{PROJECT}:appReplicas",
            str(app.replicas),
            f"at most {max(most, 0)} with appPlacement aci: a rollout runs one replica more than "
            f"appReplicas, each of appCpu {app.cpu} and appMemory {app.memory}, and the virtual "
            f"node takes {limits}; raise the aciQuota* settings with your ACI quota",
        )


def _stack_config(full_key: str) -> str | None:
    namespace, _, name = full_key.partition(":")
    return pulumi.Config(namespace).get(name)


def _stack_config_keys() -> set[str]:
    """Every key of the running stack's configuration.

    The language host hands the program its configuration (stack values over Pulumi.yaml's
    defaults) as the ``PULUMI_CONFIG`` JSON map and the SDK's ``set_all_config`` puts it in
    ``CONFIG`` before the program runs; ``pulumi.Config`` has no way to list it.
    """
    return set(CONFIG.get()) | set(get_config_env())
