// The app registration people sign in through to reach the admin views (App Service authentication,
// "Easy Auth"), created with the Microsoft Graph Bicep extension. Single tenant, sign-in only: it asks
// for no Graph permission, and has no client secret, so App Service authentication signs people in
// with OpenID Connect ID tokens (their issuance is the one grant switched on). Only the people assigned to
// it may sign in: the views list every monitored user, which not everyone in the tenant may read.
extension microsoftGraphV1

param displayName string
@description('The Function App name: its default host name is the redirect target.')
param appName string
@description('Who may sign in at first (the admin who deploys); assign more on its enterprise application.')
param adminPrincipalId string

resource admin 'Microsoft.Graph/applications@v1.0' = {
  uniqueName: 'legacy-auth-monitor-admin-${appName}'
  displayName: displayName
  signInAudience: 'AzureADMyOrg'
  web: {
    redirectUris: ['https://${appName}.azurewebsites.net/.auth/login/aad/callback']
    implicitGrantSettings: { enableIdTokenIssuance: true, enableAccessTokenIssuance: false }
  }
}

// Assignment required: anyone else in the tenant is refused at sign-in, before App Service passes them on.
resource adminPrincipal 'Microsoft.Graph/servicePrincipals@v1.0' = {
  appId: admin.appId
  appRoleAssignmentRequired: true
}

// The default access role: "a default app role ID of 00000000-0000-0000-0000-000000000000 can be specified"
// when the app declares no app roles (https://learn.microsoft.com/graph/api/resources/approleassignment).
resource firstAdmin 'Microsoft.Graph/appRoleAssignedTo@v1.0' = if (!empty(adminPrincipalId)) {
  appRoleId: '00000000-0000-0000-0000-000000000000'
  principalId: adminPrincipalId
  resourceId: adminPrincipal.id
}

output clientId string = admin.appId
