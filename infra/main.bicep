// Legacy Auth Monitor: one deployment for one tenant. `azd up` provisions this and deploys the app.
targetScope = 'subscription'

@minLength(1)
@maxLength(40)
@description('Name of the environment (azd), used in resource names.')
param environmentName string

@description('Azure region for the resource group and the Function App.')
param location string

@description('Where ACS keeps its data: United States, Europe, UK, Australia, Japan, ...')
param emailDataLocation string = 'Europe'

@description('Custom sending domain (verified in DNS after deployment). Empty: Azure-managed domain, 10 mails/hour.')
param customEmailDomain string = ''

@description('Set once the custom domain\'s DNS records are verified: link it and send from it (docs/deploy.md).')
param customEmailDomainVerified bool = false

@description('Local part of the sender address.')
param senderUsername string = 'DoNotReply'

@allowed(['off', 'dry-run', 'live'])
@description('Start in dry-run; switch to live after a pilot (docs/deploy.md).')
param notifyMode string = 'dry-run'

@description('Collect Exchange device partnerships (grants Exchange.ManageAsApp; an Exchange role stays a manual step).')
param collectDevices bool = false

@description('The tenant initial domain, e.g. contoso.onmicrosoft.com: required when collectDevices is true.')
param exoOrganization string = ''

@description('Comma-separated UPNs never to mail (service accounts, rooms).')
param excludedUpns string = ''

@description('Closing line of every user email; empty: a helpdesk line in the reader\'s language.')
param contactLine string = ''
param legacyProtocols string = 'Exchange ActiveSync,Authenticated SMTP'
param lookbackDays int = 30
param overlapMinutes int = 15
param staleDays int = 60
param remediationQuietHours int = 24
param sprayMinAccounts int = 5
param deviceMinAttempts int = 2
param deviceMaxNetworks int = 3

@description('Budget for sign-in log requests: Graph serves 5 per 10 seconds per app and tenant.')
param signinsRateLimit string = '5/10s'
param graphMaxRetries int = 5
@description('The longest Retry-After obeyed, in seconds; a run never waits past its own deadline either.')
param graphMaxRetryAfterSeconds int = 300
param graphTimeoutSeconds int = 120
@description('Seconds one collect run reads before saving its place for the next run (host timeout: 30 min).')
param collectMaxSeconds int = 1500
@description('Pages between two checkpoints of an open window.')
param checkpointPages int = 50

@description('Language of user emails when neither their preferred language nor their country has a translation.')
param defaultLocale string = 'en'
@description('Days after the first email to remind users still on legacy auth.')
param reminderDays string = '3,7'
@description('Pilot allow-list: comma-separated addresses or @domains that may be emailed; empty = everyone.')
param allowedRecipients string = ''
@description('ACS send quota: Azure-managed domain 5/min and 10/hour; custom domains 30/min and 100/hour.')
param sendPerMinute int = 5
param sendPerHour int = 10
param notifyMaxSeconds int = 240
@description('Send a short thank-you when a user is remediated.')
param sendConfirmation bool = false
@description('Entra ID sign-in (App Service authentication) in front of the admin views; needs rights to create an app registration. false: function keys only.')
param adminSignIn bool = true
@description('Owners of SMTP AUTH sender accounts: comma-separated sender-upn=owner-address; unmapped senders go to their Entra ID manager.')
param senderOwners string = ''
@description('Comma-separated admin addresses for the daily digest; empty = no digest.')
param digestRecipients string = ''
param digestSchedule string = '0 0 7 * * *'

@description('Object id of the admin (or admin group) who may read the state tables with the CLI: Storage Table Data Reader. azd passes the signed-in user (AZURE_PRINCIPAL_ID); empty: no assignment.')
param adminPrincipalId string = ''
@allowed(['User', 'Group', 'ServicePrincipal'])
param adminPrincipalType string = 'User'

@description('NCRONTAB schedules of the timers, in UTC: Flex Consumption has no time zone setting (docs/deploy.md converts).')
param collectSchedule string = '0 */30 * * * *'
param appleCheckSchedule string = '0 15 */6 * * *'
param notifySchedule string = '0 0 8-17 * * 1-5'

var tags = { 'azd-env-name': environmentName, app: 'legacy-auth-monitor' }
var token = toLower(uniqueString(subscription().id, environmentName, location))
var deploymentContainerName = 'app-package'
var stateTables = ['users', 'checkpoints', 'runs', 'notifications', 'tenant']

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  scope: rg
  name: 'identity'
  params: { name: 'id-lam-${token}', location: location, tags: tags }
}

module monitoring 'modules/monitoring.bicep' = {
  scope: rg
  name: 'monitoring'
  params: {
    workspaceName: 'log-lam-${token}'
    appInsightsName: 'appi-lam-${token}'
    location: location
    tags: tags
  }
}

module storage 'modules/storage.bicep' = {
  scope: rg
  name: 'storage'
  params: {
    name: 'stlam${token}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
    tableNames: stateTables
  }
}

module communication 'modules/communication.bicep' = {
  scope: rg
  name: 'communication'
  params: {
    emailServiceName: 'ecs-lam-${token}'
    communicationServiceName: 'acs-lam-${token}'
    dataLocation: emailDataLocation
    senderUsername: senderUsername
    customDomain: customEmailDomain
    customDomainVerified: customEmailDomainVerified
    tags: tags
  }
}

module roles 'modules/roles.bicep' = {
  scope: rg
  name: 'roles'
  params: {
    principalId: identity.outputs.principalId
    storageName: storage.outputs.name
    communicationServiceName: 'acs-lam-${token}'
    appInsightsName: 'appi-lam-${token}'
  }
  dependsOn: [communication, monitoring]
}

module adminAccess 'modules/admin-access.bicep' = if (!empty(adminPrincipalId)) {
  scope: rg
  name: 'admin-access'
  params: { principalId: adminPrincipalId, principalType: adminPrincipalType, storageName: storage.outputs.name }
}

module graphRoles 'modules/graph-roles.bicep' = {
  scope: rg
  name: 'graph-roles'
  params: { principalId: identity.outputs.principalId, collectDevices: collectDevices }
}

module adminAuth 'modules/admin-auth.bicep' = if (adminSignIn) {
  scope: rg
  name: 'admin-auth'
  params: {
    displayName: 'Legacy Auth Monitor admin (${environmentName})'
    appName: 'func-lam-${token}'
    adminPrincipalId: adminPrincipalId
  }
}

module functionApp 'modules/functionapp.bicep' = {
  scope: rg
  name: 'function-app'
  params: {
    planName: 'plan-lam-${token}'
    appName: 'func-lam-${token}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageName: storage.outputs.name
    storageBlobEndpoint: storage.outputs.blobEndpoint
    storageTableEndpoint: storage.outputs.tableEndpoint
    deploymentContainerName: deploymentContainerName
    appInsightsConnectionString: monitoring.outputs.connectionString
    acsEndpoint: communication.outputs.endpoint
    senderAddress: communication.outputs.senderAddress
    adminSignInClientId: adminSignIn ? adminAuth.outputs.clientId : ''
    monitor: {
      notifyMode: notifyMode
      lookbackDays: lookbackDays
      overlapMinutes: overlapMinutes
      staleDays: staleDays
      remediationQuietHours: remediationQuietHours
      sprayMinAccounts: sprayMinAccounts
      deviceMinAttempts: deviceMinAttempts
      deviceMaxNetworks: deviceMaxNetworks
      excludedUpns: excludedUpns
      legacyProtocols: legacyProtocols
      contactLine: contactLine
      collectSchedule: collectSchedule
      appleCheckSchedule: appleCheckSchedule
      notifySchedule: notifySchedule
      defaultLocale: defaultLocale
      reminderDays: reminderDays
      allowedRecipients: allowedRecipients
      sendPerMinute: sendPerMinute
      sendPerHour: sendPerHour
      notifyMaxSeconds: notifyMaxSeconds
      sendConfirmation: sendConfirmation
      senderOwners: senderOwners
      digestRecipients: digestRecipients
      digestSchedule: digestSchedule
      collectDevices: collectDevices
      exoOrganization: exoOrganization
      signinsRateLimit: signinsRateLimit
      graphMaxRetries: graphMaxRetries
      graphMaxRetryAfterSeconds: graphMaxRetryAfterSeconds
      graphTimeoutSeconds: graphTimeoutSeconds
      collectMaxSeconds: collectMaxSeconds
      checkpointPages: checkpointPages
    }
  }
  dependsOn: [roles]
}

output AZURE_RESOURCE_GROUP string = rg.name
output FUNCTION_APP_NAME string = functionApp.outputs.name
output FUNCTION_APP_URL string = 'https://${functionApp.outputs.hostName}'
output DASHBOARD_URL string = 'https://${functionApp.outputs.hostName}/api/dashboard'
// What the CLI needs to read the deployed state (docs/deploy.md): LAM_TENANT_ID and LAM_TABLES_ENDPOINT.
output LAM_TENANT_ID string = tenant().tenantId
output LAM_TABLES_ENDPOINT string = storage.outputs.tableEndpoint
output APPLICATIONINSIGHTS_NAME string = 'appi-lam-${token}'
output MANAGED_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output SENDER_ADDRESS string = communication.outputs.senderAddress
output CUSTOM_DOMAIN_DNS_RECORDS object = communication.outputs.customDomainRecords
