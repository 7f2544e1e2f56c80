// Microsoft Graph application roles for the managed identity, through the Microsoft Graph Bicep extension.
// The list is the whole of what the monitor may do in the directory; each entry says why. Least privilege:
// no Directory.Read.All (it would make User.Read.All and Application.Read.All redundant and read far
// more): List signIns needs AuditLog.Read.All alone, "least privileged" for applications per
// microsoftgraph/microsoft-graph-docs-contrib, api-reference/v1.0/includes/permissions/signin-list-permissions.md.
extension microsoftGraphV1

param principalId string
@description('Exchange.ManageAsApp is granted only when the optional device collector is switched on.')
param collectDevices bool

var graphAppId = '00000003-0000-0000-c000-000000000000'
var exchangeAppId = '00000002-0000-0ff1-ce00-000000000000'

var graphRoles = [
  'AuditLog.Read.All' // read the sign-in logs (auditLogs/signIns): the only role that API needs
  'User.Read.All' // mail address, language, enabled state and type of the users we write to; SMTP senders' managers
  'Application.Read.All' // find the Apple Internet Accounts service principal and its consent grants
  'Policy.Read.All' // user consent policy and Conditional Access legacy-auth block (tenant readiness)
]

resource graph 'Microsoft.Graph/servicePrincipals@v1.0' existing = {
  appId: graphAppId
}

resource exchange 'Microsoft.Graph/servicePrincipals@v1.0' existing = {
  appId: exchangeAppId
}

resource graphAssignments 'Microsoft.Graph/appRoleAssignedTo@v1.0' = [
  for role in graphRoles: {
    appRoleId: filter(graph.appRoles, r => r.value == role)[0].id
    principalId: principalId
    resourceId: graph.id
  }
]

resource exchangeManageAsApp 'Microsoft.Graph/appRoleAssignedTo@v1.0' = if (collectDevices) {
  appRoleId: filter(exchange.appRoles, r => r.value == 'Exchange.ManageAsApp')[0].id
  principalId: principalId
  resourceId: exchange.id
}

output graphRoles array = graphRoles
