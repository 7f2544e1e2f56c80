// One storage account: the Functions host (blob deployment package, queues, leases) and the state tables.
// Identity-only: shared-key access is disabled, so no key or connection string exists to leak.
param name string
param location string
param tags object
param deploymentContainerName string
param tableNames array

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    //checkov:skip=CKV_AZURE_206:State is rebuilt from the sign-in logs within 30 days; LRS is the cost-appropriate choice.
    //checkov:skip=CKV_AZURE_59:Flex Consumption without a VNet reaches storage over its public endpoint; every request needs an Entra ID token because shared keys are disabled.
    //checkov:skip=CKV_AZURE_35:Same reason as CKV_AZURE_59: a deny-by-default firewall needs a VNet-integrated app, an option for a later hardening step.
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }

  resource blobService 'blobServices' = {
    name: 'default'
    resource deployments 'containers' = {
      name: deploymentContainerName
      properties: { publicAccess: 'None' }
    }
  }

  resource tableService 'tableServices' = {
    name: 'default'
  }
}

resource tables 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = [
  for table in tableNames: {
    parent: storage::tableService
    name: table
  }
]

output id string = storage.id
output name string = storage.name
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output tableEndpoint string = storage.properties.primaryEndpoints.table
