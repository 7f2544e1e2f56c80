// Azure RBAC for the identity, each assignment scoped to the single resource that needs it.
param principalId string
param storageName string
param communicationServiceName string

var roles = {
  // The Functions host: deployment package and leases (blob), timers and scale (queue).
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  // The state tables.
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageName
}

resource communication 'Microsoft.Communication/communicationServices@2023-04-01' existing = {
  name: communicationServiceName
}

resource storageRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for role in items(roles): {
    name: guid(storage.id, principalId, role.value)
    scope: storage
    properties: {
      principalId: principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.value)
    }
  }
]

// Sending mail with an Entra ID token needs read on the Communication Services resource and the
// email write action; a custom role grants exactly that instead of Contributor.
resource emailSender 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(communication.id, 'legacy-auth-monitor-email-sender')
  properties: {
    roleName: 'Legacy Auth Monitor email sender (${communicationServiceName})'
    description: 'Send email through one Communication Services resource.'
    type: 'CustomRole'
    permissions: [
      {
        actions: [
          'Microsoft.Communication/CommunicationServices/Read'
          'Microsoft.Communication/EmailServices/write'
        ]
        notActions: []
      }
    ]
    assignableScopes: [communication.id]
  }
}

resource emailSenderAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(communication.id, principalId, emailSender.id)
  scope: communication
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: emailSender.id
  }
}
