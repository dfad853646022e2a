"""The stack's Azure home: its resource group and the Cosmos DB database the app stores todos in."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote_plus, unquote

import pulumi
from pulumi_azure_native import cosmosdb, resources

from settings import CapacityMode, CosmosSettings

# Chosen at creation and not simply changeable later; current drivers (PyMongo 4.11+) need >= 4.2.
MONGO_SERVER_VERSION = "7.0"
# listDatabaseAccountConnectionStrings returns several strings; pick by description, not index.
PRIMARY_CONNECTION_STRING = "Primary MongoDB Connection String"


@dataclass(frozen=True)
class AzureDataArgs:
    settings: CosmosSettings
    # The collection the app stores todos in, declared here (see below).
    collection_name: str
    # Microsoft.DocumentDB registered on the subscription: the account waits for it.
    documentdb_registration: pulumi.Resource
    # True for an app that creates its collections through the driver (the seed's image).
    driver_creates_collections: bool = False


class AzureData(pulumi.ComponentResource):
    """A resource group, a Cosmos DB for MongoDB account and the app's database.

    Everything Azure in the stack lives in the resource group, which is also the scope of the
    connector's role and the home of its container groups. The group, the account and the
    database are protected when ``protectDatabase`` is on, so a config change that would
    replace them (such as switching between serverless and provisioned throughput) stops
    instead of deleting data.

    Hardening: TLS 1.2 minimum, continuous backup with 30-day point-in-time restore, and the
    stateful resources retained in Azure when deleted from the stack while protected. The app's
    collection is declared here, so key-based metadata writes can be disabled: the key the app
    holds can read and write documents but not drop or reshape the database. Only when the app
    creates its collections through the driver (the seed's image) are they left enabled.

    ``connection_string`` is a secret: the primary MongoDB connection string with the database
    named in its path, so the app writes to the database this stack manages.
    """

    resource_group_name: pulumi.Output[str]
    resource_group_id: pulumi.Output[str]
    account_name: pulumi.Output[str]
    database_name: pulumi.Output[str]
    connection_string: pulumi.Output[str]

    def __init__(
        self, name: str, args: AzureDataArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("gke-aci:azure:Data", name, None, opts)
        settings = args.settings
        protected = pulumi.ResourceOptions(
            parent=self, protect=settings.protect, retain_on_delete=settings.protect
        )

        # Deleting the group would delete the account in it, so it is protected alike.
        group = resources.ResourceGroup(name, location=settings.location, opts=protected)

        serverless = settings.capacity_mode is CapacityMode.SERVERLESS
        account = cosmosdb.DatabaseAccount(
            f"{name}-cosmos",
            resource_group_name=group.name,
            location=settings.location,
            kind=cosmosdb.DatabaseAccountKind.MONGO_DB,
            database_account_offer_type=cosmosdb.DatabaseAccountOfferType.STANDARD,
            locations=[{"location_name": settings.location, "failover_priority": 0}],
            api_properties={"server_version": MONGO_SERVER_VERSION},
            capabilities=[{"name": "EnableServerless"}] if serverless else None,
            consistency_policy={
                "default_consistency_level": cosmosdb.DefaultConsistencyLevel.SESSION
            },
            minimal_tls_version=cosmosdb.MinimalTlsVersion.TLS12,
            # The strongest policy: restore to any second of the last 30 days. Microsoft does not
            # list serverless among its limits and Bicep users deploy the two together.
            backup_policy={
                "type": "Continuous",
                "continuous_mode_properties": {"tier": cosmosdb.ContinuousTier.CONTINUOUS30_DAYS},
            },
            disable_key_based_metadata_write_access=not args.driver_creates_collections,
            opts=pulumi.ResourceOptions.merge(
                protected, pulumi.ResourceOptions(depends_on=[args.documentdb_registration])
            ),
        )

        database = cosmosdb.MongoDBResourceMongoDBDatabase(
            f"{name}-database",
            resource_group_name=group.name,
            account_name=account.name,
            database_name=settings.database_name,
            resource={"id": settings.database_name},
            options=None if serverless else {"throughput": settings.provisioned_throughput},
            opts=protected,
        )

        cosmosdb.MongoDBResourceMongoDBCollection(
            f"{name}-{args.collection_name}",
            resource_group_name=group.name,
            account_name=account.name,
            database_name=database.name,
            collection_name=args.collection_name,
            resource={
                "id": args.collection_name,
                # A shared-throughput database wants a shard key; the app reads by _id.
                "shard_key": {"_id": "Hash"},
                "indexes": [{"key": {"keys": ["_id"]}}],
            },
            opts=protected,
        )

        connection_strings = cosmosdb.list_database_account_connection_strings_output(
            account_name=account.name, resource_group_name=group.name
        )
        primary = connection_strings.connection_strings.apply(
            lambda strings: next(
                (
                    s.connection_string
                    for s in strings or []
                    if s.description == PRIMARY_CONNECTION_STRING
                ),
                None,
            )
        )

        self.resource_group_name = group.name
        self.resource_group_id = group.id
        self.account_name = account.name
        self.database_name = database.name
        # The account is named here too, so the string visibly derives from it even in a
        # preview, where the invoke above is skipped and carries no dependency.
        self.connection_string = pulumi.Output.secret(
            pulumi.Output.all(primary, database.name, account.name).apply(
                lambda parts: connection_string_for_database(parts[0], parts[1])
            )
        )

        self.register_outputs(
            {
                "resourceGroupName": self.resource_group_name,
                "accountName": self.account_name,
                "databaseName": self.database_name,
                "connectionString": self.connection_string,
            }
        )


def connection_string_for_database(primary: str | None, database: str) -> str:
    """The account's primary MongoDB connection string with ``database`` as the URI's path.

    The account key is base64 (``+``, ``/`` and ``=`` included), and MongoDB URI parsers unquote
    the user-info part, so the key is re-quoted here; an already-quoted key is unquoted first.
    """
    if not primary:
        raise ValueError(
            f"Cosmos DB returned no {PRIMARY_CONNECTION_STRING!r}; is the account's kind MongoDB?"
        )
    scheme, separator, rest = primary.partition("://")
    # Neither the account name nor a base64 key contains '@', so the first '@' ends the user info.
    user_info, at, hosts_and_options = rest.partition("@")
    if not separator or not at or ":" not in user_info:
        raise ValueError("the Cosmos DB connection string has no user:key@host part")
    user, _, key = user_info.partition(":")
    hosts, _, query = hosts_and_options.partition("?")
    hosts = hosts.rstrip("/").split("/")[0]
    credentials = f"{quote_plus(unquote(user))}:{quote_plus(unquote(key))}"
    return f"{scheme}://{credentials}@{hosts}/{database}" + (f"?{query}" if query else "")
