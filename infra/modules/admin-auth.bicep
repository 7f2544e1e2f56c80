// The app registration people sign in through to reach the admin views (App Service authentication,
// "Easy Auth"), created with the Microsoft Graph Bicep extension. Single tenant, sign-in only: it asks
// for no Graph permission, and has no client secret, so App Service authentication signs people in
// with OpenID Connect ID tokens (their issuance is the one grant switched on).
extension microsoftGraphV1

param displayName string
@description('The Function App name: its default host name is the redirect target.')
param appName string

resource admin 'Microsoft.Graph/applications@v1.0' = {
  uniqueName: 'legacy-auth-monitor-admin-${appName}'
  displayName: displayName
  signInAudience: 'AzureADMyOrg'
  web: {
    redirectUris: ['https://${appName}.azurewebsites.net/.auth/login/aad/callback']
    implicitGrantSettings: { enableIdTokenIssuance: true, enableAccessTokenIssuance: false }
  }
}

output clientId string = admin.appId
