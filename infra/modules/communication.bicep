// Azure Communication Services Email: an Email service with the Azure-managed domain and, when given, a
// custom domain; the sender usernames, and the Communication Services resource the app sends through.
// A custom domain can be linked only once its DNS records are verified, so it is deployed in two passes:
// first created (mail still goes from the Azure-managed domain, and its DNS records are an output), then,
// with customDomainVerified=true, linked and used as the sender (docs/deploy.md, "A sender people trust").
param emailServiceName string
param communicationServiceName string
param dataLocation string
param senderUsername string
@description('Empty: only the Azure-managed domain (5/min, 10/hour). Otherwise a custom domain you verify in DNS.')
param customDomain string
@description('The custom domain\'s DNS records are verified in the Email service: link it and send from it.')
param customDomainVerified bool = false
@description('The name people see beside the sender address.')
param senderDisplayName string = 'IT helpdesk'
param tags object

var useCustomDomain = !empty(customDomain)
var sendFromCustom = useCustomDomain && customDomainVerified

resource emailService 'Microsoft.Communication/emailServices@2023-04-01' = {
  name: emailServiceName
  location: 'global'
  tags: tags
  properties: { dataLocation: dataLocation }
}

resource managedDomain 'Microsoft.Communication/emailServices/domains@2023-04-01' = {
  parent: emailService
  name: 'AzureManagedDomain'
  location: 'global'
  tags: tags
  properties: {
    domainManagement: 'AzureManaged'
    userEngagementTracking: 'Disabled'
  }
}

resource managedSender 'Microsoft.Communication/emailServices/domains/senderUsernames@2023-04-01' = {
  parent: managedDomain
  name: senderUsername
  properties: {
    username: senderUsername
    displayName: senderDisplayName
  }
}

resource customDomainResource 'Microsoft.Communication/emailServices/domains@2023-04-01' = if (useCustomDomain) {
  parent: emailService
  name: useCustomDomain ? customDomain : 'none'
  location: 'global'
  tags: tags
  properties: {
    domainManagement: 'CustomerManaged'
    userEngagementTracking: 'Disabled'
  }
}

resource customSender 'Microsoft.Communication/emailServices/domains/senderUsernames@2023-04-01' = if (useCustomDomain) {
  parent: customDomainResource
  name: senderUsername
  properties: {
    username: senderUsername
    displayName: senderDisplayName
  }
}

resource communication 'Microsoft.Communication/communicationServices@2025-05-01' = {
  name: communicationServiceName
  location: 'global'
  tags: tags
  properties: {
    dataLocation: dataLocation
    linkedDomains: sendFromCustom ? [managedDomain.id, customDomainResource.id] : [managedDomain.id]
    // The app sends with its identity (the email sender role): access keys would only be a way around it.
    disableLocalAuth: true
  }
}

output communicationServiceId string = communication.id
output endpoint string = 'https://${communication.properties.hostName}'
var managedAddress = '${senderUsername}@${managedDomain.properties.mailFromSenderDomain}'
output senderAddress string = sendFromCustom ? '${senderUsername}@${customDomain}' : managedAddress
@description('The DNS records to create for the custom domain (Domain, SPF, DKIM, DKIM2): type, name, value.')
output customDomainRecords object = useCustomDomain ? customDomainResource.properties.verificationRecords : {}
