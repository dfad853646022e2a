"""Which Google identity the cluster's kubeconfig signs in with: the one pulumi-gcp signs in with.

pulumi-gcp reads its credentials from stack configuration or, when a key is not set there, from
environment variables (pulumi-gcp v9.35.0 provider/resources.go, ``tpg_transport.Config``):

- ``gcp:accessToken`` or ``GOOGLE_OAUTH_ACCESS_TOKEN``: a static OAuth token, used first;
- ``gcp:credentials`` or ``GOOGLE_CREDENTIALS``, ``GOOGLE_CLOUD_KEYFILE_JSON``,
  ``GCLOUD_KEYFILE_JSON``: a key file's path or the key itself;
- otherwise application default credentials;
- and on top of either, ``gcp:impersonateServiceAccount`` or
  ``GOOGLE_IMPERSONATE_SERVICE_ACCOUNT``.

(terraform-provider-google v7.45.0 google/transport/config.go, ``GetCredentials``, tries the
token before the credentials.) The kubeconfig runs ``gke-gcloud-auth-plugin``, which signs in with
application default credentials under ``--use_application_default_credentials`` (those honour
``GOOGLE_APPLICATION_CREDENTIALS``), or with gcloud's account, impersonating a service account
under ``--impersonate_service_account`` (kubernetes/cloud-provider-gcp
cmd/gke-gcloud-auth-plugin/cred.go, gke-gcloud-auth-plugin/v36.3.3). :func:`kubeconfig_auth` maps
the first onto the second, and names what cannot be mapped: a static token (the plugin cannot
renew it) and key material given inline (it would have to be copied into the kubeconfig).

Standard library only: ``python -m preflight`` runs the same mapping before ``pulumi up``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

ADC_FLAG = "--use_application_default_credentials"
IMPERSONATE_FLAG = "--impersonate_service_account"

ACCESS_TOKEN = ("gcp:accessToken", ("GOOGLE_OAUTH_ACCESS_TOKEN",))
CREDENTIALS = (
    "gcp:credentials",
    ("GOOGLE_CREDENTIALS", "GOOGLE_CLOUD_KEYFILE_JSON", "GCLOUD_KEYFILE_JSON"),
)
IMPERSONATE = ("gcp:impersonateServiceAccount", ("GOOGLE_IMPERSONATE_SERVICE_ACCOUNT",))


@dataclass(frozen=True)
class KubeconfigAuth:
    """The plugin's arguments and environment in the kubeconfig's ``exec`` block."""

    args: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()
    # What the identity is, for messages and docs.
    description: str = "application default credentials"


@dataclass(frozen=True)
class IdentityProblem:
    """pulumi-gcp's sign-in cannot be followed by the kubeconfig. Never carries a secret value."""

    source: str
    problem: str

    def line(self) -> str:
        return f"{self.source}: {self.problem}"


def kubeconfig_auth(
    config: Callable[[str], str | None], environ: Mapping[str, str]
) -> KubeconfigAuth | IdentityProblem:
    """The kubeconfig's sign-in that matches pulumi-gcp's, given its config and environment."""
    if token := _first(config, environ, *ACCESS_TOKEN):
        return IdentityProblem(
            token[0],
            "set (value not shown): pulumi-gcp would sign in with this fixed access token, which "
            "the cluster's kubeconfig (gke-gcloud-auth-plugin) cannot renew; unset it and use "
            "application default credentials, a key file (gcp:credentials set to its path) or "
            "gcp:impersonateServiceAccount",
        )
    if impersonated := _first(config, environ, *IMPERSONATE):
        source, account = impersonated
        if "@" not in account or any(c.isspace() for c in account):
            return IdentityProblem(
                source,
                f"got {account!r}; allowed: a service account email such as "
                "deployer@my-project.iam.gserviceaccount.com",
            )
        return KubeconfigAuth(
            args=(f"{IMPERSONATE_FLAG}={account}",),
            description=f"gcloud's account impersonating {account}",
        )
    if credentials := _first(config, environ, *CREDENTIALS):
        return _key_file(*credentials)
    return KubeconfigAuth(args=(ADC_FLAG,))


def _key_file(source: str, value: str) -> KubeconfigAuth | IdentityProblem:
    if value.lstrip().startswith("{"):
        return IdentityProblem(
            source,
            "holds the key itself (value not shown); the cluster's kubeconfig can only point at "
            f"a file: save the key to a file readable only by you and set {source} to its path",
        )
    path = os.path.abspath(os.path.expanduser(value))
    if not os.path.isfile(path) or not os.access(path, os.R_OK):
        return IdentityProblem(
            source, f"names {value!r}, which is not a readable file; set it to a key file's path"
        )
    return KubeconfigAuth(
        args=(ADC_FLAG,),
        env=(("GOOGLE_APPLICATION_CREDENTIALS", path),),
        description=f"the key file {path}",
    )


def _first(
    config: Callable[[str], str | None],
    environ: Mapping[str, str],
    key: str,
    variables: tuple[str, ...],
) -> tuple[str, str] | None:
    """Where pulumi-gcp finds ``key``: the stack's value, else the first variable that is set."""
    value = (config(key) or "").strip()
    if value:
        return key, value
    for variable in variables:
        if value := environ.get(variable, "").strip():
            return variable, value
    return None
