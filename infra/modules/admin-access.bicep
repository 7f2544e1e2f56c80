// Read access for the admin who deploys: the CLI and the Storage browser read the state tables with
// the admin's own sign-in (no account keys: shared keys are disabled). Read only: every write to the
// state goes through the app's identity.
param principalId string
@allowed(['User', 'Group', 'ServicePrincipal'])
param principalType string = 'User'
param storageName string

var storageTableDataReader = '76199698-9eea-4c19-bc75-cec21354c6b6'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageName

  resource tableService 'tableServices' existing = {
    name: 'default'
  }
}

// Scoped to the table service, like the app's own table role: the host's blobs and queues stay out of reach.
resource tableReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage::tableService.id, principalId, storageTableDataReader)
  scope: storage::tableService
  properties: {
    principalId: principalId
    principalType: principalType
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageTableDataReader)
  }
}
