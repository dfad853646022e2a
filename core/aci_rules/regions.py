"""The Azure regions where the connector can run pods (rule S7 in docs/aci-rules.md)."""

from __future__ import annotations

from typing import Final

# Regions in the connector's own list (`validAciRegions` in virtual-kubelet/azure-aci v1.6.4
# pkg/provider/aci.go) that it cannot reach as deployed here: without an AKS credentials file it
# signs in to the Azure public cloud only (pkg/auth/auth_config.go, SetAuthConfig sets
# cloud.AzurePublic; only AKS_CREDENTIAL_LOCATION selects another cloud), and these are in the
# US Government and China clouds.
SOVEREIGN_CLOUD_REGIONS: Final = frozenset(
    {"chinaeast2", "chinaeast3", "chinanorth3", "usgovarizona", "usgovvirginia"}
)
# The regions the connector accepts (the list above, any other ACI_REGION makes it exit at
# startup), less the sovereign-cloud ones it cannot reach.
ACI_REGIONS: Final = frozenset(
    {
        "australiacentral",
        "australiacentral2",
        "australiaeast",
        "australiasoutheast",
        "brazilsouth",
        "canadacentral",
        "canadaeast",
        "centralindia",
        "centralus",
        "centraluseuap",
        "eastasia",
        "eastus",
        "eastus2",
        "eastus2euap",
        "francecentral",
        "francesouth",
        "germanynorth",
        "germanywestcentral",
        "japaneast",
        "japanwest",
        "jioindiawest",
        "israelcentral",
        "italynorth",
        "koreacentral",
        "koreasouth",
        "northcentralus",
        "northeurope",
        "norwayeast",
        "norwaywest",
        "polandcentral",
        "qatarcentral",
        "southafricanorth",
        "southafricawest",
        "southcentralus",
        "southindia",
        "southeastasia",
        "swedencentral",
        "swedensouth",
        "switzerlandnorth",
        "switzerlandwest",
        "uaenorth",
        "uksouth",
        "ukwest",
        "westcentralus",
        "westeurope",
        "westindia",
        "westus",
        "westus2",
        "westus3",
    }
)
