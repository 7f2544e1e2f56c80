// Azure Communication Services Email: an Email service with an Azure-managed domain (or a custom one),
// the sender username, and the Communication Services resource the app sends through.
param emailServiceName string
param communicationServiceName string
param dataLocation string
param senderUsername string
@description('Empty: use the Azure-managed domain (5/min, 10/hour). Otherwise a custom domain you verify in DNS.')
param customDomain string
param tags object

var useCustomDomain = !empty(customDomain)

resource emailService 'Microsoft.Communication/emailServices@2023-04-01' = {
  name: emailServiceName
  location: 'global'
  tags: tags
  properties: { dataLocation: dataLocation }
}

resource domain 'Microsoft.Communication/emailServices/domains@2023-04-01' = {
  parent: emailService
  name: useCustomDomain ? customDomain : 'AzureManagedDomain'
  location: 'global'
  tags: tags
  properties: {
    domainManagement: useCustomDomain ? 'CustomerManaged' : 'AzureManaged'
    userEngagementTracking: 'Disabled'
  }
}

resource sender 'Microsoft.Communication/emailServices/domains/senderUsernames@2023-04-01' = {
  parent: domain
  name: senderUsername
  properties: {
    username: senderUsername
    displayName: 'IT mail setup'
  }
}

resource communication 'Microsoft.Communication/communicationServices@2025-05-01' = {
  name: communicationServiceName
  location: 'global'
  tags: tags
  properties: {
    dataLocation: dataLocation
    linkedDomains: [domain.id]
    // The app sends with its identity (the email sender role): access keys would only be a way around it.
    disableLocalAuth: true
  }
}

output communicationServiceId string = communication.id
output endpoint string = 'https://${communication.properties.hostName}'
output senderAddress string = '${senderUsername}@${domain.properties.mailFromSenderDomain}'
