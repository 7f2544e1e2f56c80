// Flex Consumption (FC1) Linux Function App, Python 3.11, running as the user-assigned identity.
// Every LAM_* setting the app reads is set here (tests compare this list with pipeline/settings.py).
param planName string
param appName string
param location string
param tags object
param identityId string
param identityClientId string
param storageName string
param storageBlobEndpoint string
param storageTableEndpoint string
param deploymentContainerName string
param appInsightsConnectionString string
param acsEndpoint string
param senderAddress string
param monitor object
@description('The app registration people sign in through (App Service authentication); empty: function keys only.')
param adminSignInClientId string

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    //checkov:skip=CKV_AZURE_225:Zone redundancy for Flex Consumption is regional and costs always-ready instances; timers retry on the next schedule.
    reserved: true
  }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: appName
  location: location
  tags: union(tags, { 'azd-service-name': 'monitor' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    //checkov:skip=CKV_AZURE_17:Client certificates are not used: admins call the HTTP views with a function key (or Entra ID auth, docs/deploy.md).
    //checkov:skip=CKV_AZURE_222:The admin HTTP views need a reachable endpoint; without a VNet that is the public one, behind Entra ID sign-in or function keys, HTTPS only.
    //checkov:skip=CKV_AZURE_212:Flex Consumption scales from zero by design; the work is timer-driven and resumes on the next schedule.
    //checkov:skip=CKV_AZURE_213:No health-check path: Flex Consumption instances are event-driven and there is no always-on web tier to probe.
    serverFarmId: plan.id
    httpsOnly: true
    publicNetworkAccess: 'Enabled'
    keyVaultReferenceIdentity: identityId
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageBlobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: 40
        instanceMemoryMB: 2048
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      appSettings: [
        // Host storage through the identity: no AzureWebJobsStorage connection string.
        { name: 'AzureWebJobsStorage__accountName', value: storageName }
        { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
        { name: 'AzureWebJobsStorage__clientId', value: identityClientId }
        // Identifies the resource only; local auth is disabled, ingestion authenticates with Entra ID.
        { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: appInsightsConnectionString }
        { name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', value: 'ClientId=${identityClientId};Authorization=AAD' }
        { name: 'LAM_TENANT_ID', value: tenant().tenantId }
        { name: 'LAM_GRAPH_BASE_URL', value: 'https://graph.microsoft.com' }
        { name: 'LAM_SIGNINS_API_VERSION', value: 'beta' }
        { name: 'LAM_GRAPH_AUTH', value: 'managed-identity' }
        { name: 'LAM_MANAGED_IDENTITY_CLIENT_ID', value: identityClientId }
        { name: 'LAM_TABLES_ENDPOINT', value: storageTableEndpoint }
        { name: 'LAM_ACS_ENDPOINT', value: acsEndpoint }
        { name: 'LAM_SENDER_ADDRESS', value: senderAddress }
        { name: 'LAM_NOTIFY_MODE', value: monitor.notifyMode }
        { name: 'LAM_OUTBOX_DIR', value: '/tmp/lam-outbox' }
        { name: 'LAM_LOOKBACK_DAYS', value: string(monitor.lookbackDays) }
        { name: 'LAM_OVERLAP_MINUTES', value: string(monitor.overlapMinutes) }
        { name: 'LAM_STALE_DAYS', value: string(monitor.staleDays) }
        { name: 'LAM_REMEDIATION_QUIET_HOURS', value: string(monitor.remediationQuietHours) }
        { name: 'LAM_SPRAY_MIN_ACCOUNTS', value: string(monitor.sprayMinAccounts) }
        { name: 'LAM_DEVICE_MIN_ATTEMPTS', value: string(monitor.deviceMinAttempts) }
        { name: 'LAM_DEVICE_MAX_NETWORKS', value: string(monitor.deviceMaxNetworks) }
        { name: 'LAM_EXCLUDED_UPNS', value: monitor.excludedUpns }
        { name: 'LAM_LEGACY_PROTOCOLS', value: monitor.legacyProtocols }
        { name: 'LAM_CONTACT_LINE', value: monitor.contactLine }
        { name: 'LAM_COLLECT_SCHEDULE', value: monitor.collectSchedule }
        { name: 'LAM_APPLE_CHECK_SCHEDULE', value: monitor.appleCheckSchedule }
        { name: 'LAM_NOTIFY_SCHEDULE', value: monitor.notifySchedule }
        { name: 'LAM_DEFAULT_LOCALE', value: monitor.defaultLocale }
        { name: 'LAM_REMINDER_DAYS', value: monitor.reminderDays }
        { name: 'LAM_ALLOWED_RECIPIENTS', value: monitor.allowedRecipients }
        { name: 'LAM_SEND_PER_MINUTE', value: string(monitor.sendPerMinute) }
        { name: 'LAM_SEND_PER_HOUR', value: string(monitor.sendPerHour) }
        { name: 'LAM_NOTIFY_MAX_SECONDS', value: string(monitor.notifyMaxSeconds) }
        { name: 'LAM_SEND_CONFIRMATION', value: monitor.sendConfirmation ? 'true' : 'false' }
        { name: 'LAM_SENDER_OWNERS', value: monitor.senderOwners }
        { name: 'LAM_DIGEST_RECIPIENTS', value: monitor.digestRecipients }
        { name: 'LAM_DIGEST_SEND_EMPTY', value: 'false' }
        { name: 'LAM_DIGEST_SCHEDULE', value: monitor.digestSchedule }
        { name: 'LAM_COLLECT_DEVICES', value: monitor.collectDevices ? 'true' : 'false' }
        { name: 'LAM_EXO_BASE_URL', value: 'https://outlook.office365.com' }
        { name: 'LAM_EXO_ORGANIZATION', value: monitor.exoOrganization }
        { name: 'LAM_SIGNINS_RATE_LIMIT', value: monitor.signinsRateLimit }
        { name: 'LAM_GRAPH_MAX_RETRIES', value: string(monitor.graphMaxRetries) }
        { name: 'LAM_GRAPH_MAX_RETRY_AFTER_SECONDS', value: string(monitor.graphMaxRetryAfterSeconds) }
        { name: 'LAM_GRAPH_TIMEOUT_SECONDS', value: string(monitor.graphTimeoutSeconds) }
        { name: 'LAM_COLLECT_MAX_SECONDS', value: string(monitor.collectMaxSeconds) }
        { name: 'LAM_CHECKPOINT_PAGES', value: string(monitor.checkpointPages) }
      ]
    }
  }
}

// Entra ID sign-in in front of the admin views for people (/api/…, no function key: the app itself refuses
// a request App Service authentication did not sign in, report/access.py); a request without a session is
// sent to the tenant's sign-in page. Scripts use /api/keyed/… instead, left out of the sign-in here and
// guarded by the function key (in the x-functions-key header) in the Functions host (docs/deploy.md).
resource adminSignIn 'Microsoft.Web/sites/config@2024-04-01' = if (!empty(adminSignInClientId)) {
  parent: app
  name: 'authsettingsV2'
  properties: {
    //checkov:skip=CKV_AZURE_13:checkov reads this authsettingsV2 child as a whole web app; the site resource above is what this check is about.
    //checkov:skip=CKV_AZURE_63:checkov reads this authsettingsV2 child as a whole web app; the site resource above is what this check is about.
    //checkov:skip=CKV_AZURE_65:checkov reads this authsettingsV2 child as a whole web app; the site resource above is what this check is about.
    //checkov:skip=CKV_AZURE_66:checkov reads this authsettingsV2 child as a whole web app; the site resource above is what this check is about.
    //checkov:skip=CKV_AZURE_80:checkov reads this authsettingsV2 child as a whole web app; the site resource above is what this check is about.
    //checkov:skip=CKV_AZURE_88:checkov reads this authsettingsV2 child as a whole web app; the site resource above is what this check is about.
    //checkov:skip=CKV_AZURE_222:checkov reads this authsettingsV2 child as a whole web app; the site resource above is what this check is about.
    platform: { enabled: true }
    globalValidation: {
      requireAuthentication: true
      unauthenticatedClientAction: 'RedirectToLoginPage'
      redirectToProvider: 'azureactivedirectory'
      // "/path/*" excludes everything below it (MicrosoftDocs/azure-docs issue 86514, the product team's answer).
      excludedPaths: ['/api/keyed/*']
    }
    httpSettings: { requireHttps: true }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: adminSignInClientId
          openIdIssuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
        }
      }
    }
    login: { tokenStore: { enabled: false } }
  }
}

// No FTP and no basic-auth deployment credentials: deployments use the identity.
resource publishingCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = [
  for kind in ['ftp', 'scm']: {
    parent: app
    name: kind
    properties: { allow: false }
  }
]

output name string = app.name
output hostName string = app.properties.defaultHostName
