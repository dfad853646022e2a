"""How the GKE cluster's nodes and control plane meet the network: private nodes, the control
plane's allow-list, and Cloud NAT for private nodes' egress.

Both settings are sent on every run, whatever their value, so that changing either on a deployed
stack is an update in place (docs/decisions/0016-gke-network-settings-in-place.md):

- Private nodes follow GKE's current model, without a fixed control-plane range
  (``master_ipv4_cidr_block``, which is ForceNew and peers a Google VPC into the network). The
  cluster's ``private_cluster_config.enable_private_nodes`` is updated in place
  (``DesiredDefaultEnablePrivateNodes``) and so is the node pool's
  ``network_config.enable_private_nodes`` (terraform-provider-google v7.45.0
  google/services/container/resource_container_cluster.go and resource_container_node_pool.go).
  Both blocks are Optional+Computed: left out, the last value stays, so ``False`` is sent too.
- The control plane's allow-list has no "off" switch in the provider: the block is
  Optional+Computed, and left out it keeps the last list (``expandMasterAuthorizedNetworksConfig``
  sends ``enabled: false`` only when the block is absent from the state as well). "No restriction"
  is therefore sent as the one block that admits every IPv4 address.
"""

from __future__ import annotations

from collections.abc import Sequence

from pulumi_gcp import container

# What "no restriction" is sent as: every IPv4 address (the control plane's public endpoint is an
# IPv4 address). terraform-provider-google accepts a /0 here (cidr_block: IsCIDRNetwork(0, 32)).
ANYWHERE = "0.0.0.0/0"


def private_cluster_config(private_nodes: bool) -> container.ClusterPrivateClusterConfigArgsDict:
    """Private nodes or not, said explicitly; the control plane keeps its public endpoint."""
    return {"enable_private_nodes": private_nodes, "enable_private_endpoint": False}


def node_pool_network_config(private_nodes: bool) -> container.NodePoolNetworkConfigArgsDict:
    """The node pool's own setting, which GKE applies to the pool's existing nodes."""
    return {"enable_private_nodes": private_nodes}


def authorized_networks_config(
    blocks: Sequence[str],
) -> container.ClusterMasterAuthorizedNetworksConfigArgsDict:
    """The control plane's allow-list: the blocks given, or every IPv4 address when none are."""
    if not blocks:
        return {"cidr_blocks": [{"cidr_block": ANYWHERE, "display_name": "anywhere"}]}
    return {
        "cidr_blocks": [
            {"cidr_block": block, "display_name": f"authorized-{index}"}
            for index, block in enumerate(blocks, start=1)
        ]
    }
