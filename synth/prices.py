"""The prices and assumptions behind the monthly cost in plan.md, each with where it comes from.

Every price is in US dollars, pay-as-you-go, without discounts, taxes or credits other than the
GKE free tier. Each names the page or file it was read from and the day it was read there
(``READ_ON``); ``assumption=True`` marks a figure that is not the provider's price for exactly
this item and region (the note says what it is instead). Prices change: update this table, not
the code that uses it (synth/cost.py). docs/decisions/0012-monthly-cost-estimate.md says why the
estimate is built this way; docs/cost.md explains the lines.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

# The day these prices were read from their sources.
READ_ON: Final = "2026-11-30"

# Cyclenerd/google-cloud-pricing-cost-calculator pricing.yml: Google's Cloud Billing Catalog
# prices, one file; generated 2025-03-06 (its `about.generated`), commit 0166a59ebba7.
GCP_PRICING_YML: Final = (
    "https://github.com/Cyclenerd/google-cloud-pricing-cost-calculator/blob/"
    "0166a59ebba7c36f2cc8c931d9f258dcebc44776/pricing.yml"
)
COSMOS_BILL_DOC: Final = (
    "https://learn.microsoft.com/azure/cosmos-db/understand-your-bill (MicrosoftDocs/"
    "azure-databases-docs articles/cosmos-db/understand-your-bill.md, ms.date 2022-03-31)"
)


@dataclass(frozen=True)
class Price:
    usd: float
    unit: str
    source: str
    note: str = ""
    # Not the provider's own price for exactly this item and region; `note` says what it is.
    assumption: bool = False
    # The day the price was read from `source`.
    read_on: str = READ_ON


# Prices that depend on the region are keyed by region; the estimate flags a region that is
# not in the table and uses the table's region instead.
@dataclass(frozen=True)
class RegionalPrice:
    by_region: Mapping[str, Price]

    def at(self, region: str) -> tuple[Price, str | None]:
        """The price in ``region``, or the table's first region's with a note saying so."""
        if region in self.by_region:
            return self.by_region[region], None
        known, price = next(iter(self.by_region.items()))
        return price, f"no {region} price in synth/prices.py; the {known} price is used"


GKE_CLUSTER_FEE = Price(
    0.10,
    "per cluster-hour",
    "https://cloud.google.com/kubernetes-engine/pricing (cluster management fee)",
)
GKE_FREE_TIER_CREDIT = Price(
    74.40,
    "per billing account-month",
    "https://cloud.google.com/kubernetes-engine/pricing (free tier)",
    "applies to zonal and Autopilot clusters only, once per billing account",
)

# On-demand prices of the node machine types, per VM-hour, from GCP_PRICING_YML
# (compute.instance.<type>.cost.<region>.hour). E2 machines get no sustained-use discount.
MACHINE_HOURLY: Mapping[str, RegionalPrice] = {
    "e2-standard-2": RegionalPrice({"us-west1": Price(0.06701142, "per VM-hour", GCP_PRICING_YML)}),
    "e2-standard-4": RegionalPrice({"us-west1": Price(0.13402284, "per VM-hour", GCP_PRICING_YML)}),
}

# A node pool that sets no boot disk gets pulumi-gcp's default: 100 GB of pd-balanced
# (container.NodePool node_config disk_size_gb "Defaults to 100GB", disk_type "otherwise
# defaults to pd-balanced"; pulumi-gcp 10.2.0; GKE's own default since 1.24:
# https://cloud.google.com/kubernetes-engine/docs/how-to/custom-boot-disks). The program sets
# one (nodeDiskSizeGb, nodeDiskType), so this is only the fallback for a render without it.
NODE_BOOT_DISK_GB: Final = 100
PD_BALANCED = RegionalPrice(
    {"us-west1": Price(0.10, "per GB-month", f"{GCP_PRICING_YML} (compute.storage.balanced)")}
)
# An ephemeral external IPv4 address on a VM (nodes without privateNodes).
VM_EXTERNAL_IP = Price(0.005, "per IP-hour", f"{GCP_PRICING_YML} (compute.network.ip.vm)")

# Cloud NAT (privateNodes): https://cloud.google.com/nat/pricing (Public NAT).
NAT_GATEWAY_PER_VM = Price(
    0.0014, "per VM-hour", "https://cloud.google.com/nat/pricing", "up to 32 VMs"
)
NAT_GATEWAY_MAX = Price(
    0.044, "per gateway-hour", "https://cloud.google.com/nat/pricing", "more than 32 VMs"
)
NAT_IP = Price(0.005, "per IP-hour", "https://cloud.google.com/nat/pricing")
NAT_DATA = Price(0.045, "per GiB processed", "https://cloud.google.com/nat/pricing")

# A Service of type LoadBalancer: one external passthrough Network Load Balancer.
LB_FORWARDING_RULE = Price(
    0.025,
    "per forwarding rule-hour",
    "https://cloud.google.com/load-balancing/pricing",
    "the page's global table (first 5 rules); its regional table was not readable, so the "
    "regional rule is assumed to cost the same",
    assumption=True,
)
LB_DATA = Price(0.008, "per GiB processed", "https://cloud.google.com/load-balancing/pricing")

# Premium Tier internet egress, first TiB a month, to destinations other than China and
# Australia (GCP_PRICING_YML compute.network.traffic.egress.internet.cost.0-1).
GCP_INTERNET_EGRESS = RegionalPrice(
    {"us-west1": Price(0.12, "per GiB", f"{GCP_PRICING_YML} (internet egress, 0-1 TiB)")}
)

COSMOS_SERVERLESS_RU = Price(
    0.25, "per million RUs", COSMOS_BILL_DOC, "example prices for a US non-government region"
)
COSMOS_PROVISIONED = Price(
    0.008,
    "per 100 RU/s-hour",
    COSMOS_BILL_DOC,
    "single write region; example prices for a US non-government region",
)
COSMOS_STORAGE = Price(0.25, "per GB-month", COSMOS_BILL_DOC, "transactional storage")
COSMOS_CONTINUOUS_30_DAY_BACKUP = Price(
    0.20,
    "per GB-month per region",
    "https://learn.microsoft.com/azure/cosmos-db/continuous-backup-restore-introduction "
    "(Pricing; example for West US)",
)

ACR_BASIC = Price(
    0.167,
    "per registry-day",
    "https://learn.microsoft.com/azure/container-registry/container-registry-skus",
    "includes 10 GB of storage",
)

# Not found for West US in any source read. These are the Azure Retail Prices API's East US
# meters "Standard vCPU Duration" and "Standard Memory Duration" (Container Instances), as a
# public repository quoted the API's answer on 2026-08-27.
ACI_VCPU = Price(
    0.0405,
    "per vCPU-hour",
    "https://prices.azure.com/api/retail/prices (East US, as quoted in a public repository)",
    "East US figure; no West US price was found",
    assumption=True,
)
ACI_MEMORY = Price(
    0.00445,
    "per GB-hour",
    "https://prices.azure.com/api/retail/prices (East US, as quoted in a public repository)",
    "East US figure; no West US price was found",
    assumption=True,
)

AZURE_INTERNET_EGRESS = Price(
    0.087,
    "per GB after the first 100 GB a month",
    "https://c3x.dev/blog/azure-egress-bandwidth-cost/ (a third party's summary of "
    "https://azure.microsoft.com/pricing/details/bandwidth/)",
    "not read from Microsoft's own page",
    assumption=True,
)
AZURE_FREE_EGRESS_GB: Final = 100


@dataclass(frozen=True)
class Assumptions:
    """The usage the estimate assumes where usage, not the stack, sets the price."""

    # Google's and Azure's monthly figures use 730 hours (GCP_PRICING_YML's `month` is 730 times
    # its `hour`).
    hours_per_month: float = 730
    # Serverless Cosmos DB: request units consumed a month by a lightly used todo app.
    cosmos_request_units: int = 5_000_000
    # Data and index size; 1 GB is the least Cosmos DB bills for a non-empty container
    # (https://learn.microsoft.com/azure/cosmos-db/how-pricing-works).
    cosmos_storage_gb: float = 1
    # Traffic between the clouds a month, each way: the connector's calls to Azure, and in
    # burst mode the entry proxy's requests to the replicas in ACI and their responses.
    cross_cloud_gb: float = 10
    # Traffic through the burst entry point's load balancer a month (in and out).
    load_balancer_gb: float = 10
    # Traffic through Cloud NAT a month with private nodes (both directions).
    nat_gb: float = 20


ASSUMPTIONS = Assumptions()
