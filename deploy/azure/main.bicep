// entra-compliance-monitor in Azure, in one resource group and one deployment:
//   az deployment group create -g RG -f deploy/azure/main.bicep -p @deploy/azure/main.parameters.example.json
// then grant the identity its Microsoft Graph permissions once (an admin; ARM cannot):
//   deploy/azure/grant-graph-permissions.sh RG <identity name from the outputs>
//
// What it creates: a user-assigned managed identity (the monitor's only credential: Graph, Azure
// Monitor ingestion, Blob Storage, Key Vault, the registry); a Log Analytics workspace with a
// workspace-based Application Insights that accepts Entra-authenticated ingestion only; a Container
// Apps environment and the worker app (one replica, no ingress); a storage account with an immutable
// container for the compliance snapshots and a file share for the worker's state; scheduled-query
// alert rules on the monitor's own events wired to an action group; the security workbook.
// API versions, property names and role ids: shared notes azure-deploy-facts.md (checked by
// tests/deploy/test_azure.py).

targetScope = 'resourceGroup'

@description('Region of every resource (the action group is global).')
param location string = resourceGroup().location

@description('Prefix of resource names: 3 to 12 lower-case letters and digits.')
@minLength(3)
@maxLength(12)
param prefix string = 'entramon'

@description('The image to run, e.g. contosoacr.azurecr.io/entra-compliance-monitor:0.1.0 (built from the Dockerfile).')
param image string

@description('Name of an Azure Container Registry in this resource group that holds the image (pulled with the identity, AcrPull); empty for a public image.')
param registryName string = ''

// The monitored tenant is the identity's own: a managed identity gets tokens from its home tenant
// only (the tenant of this subscription). For another tenant, use an app registration there with a
// certificate (docs/deployment.md).
@description('Label of the monitored tenant in logs, metrics and alerts (letters, digits, ".", "_", "-").')
param tenantName string

@description('Name of a Key Vault in this resource group holding the snapshot signing key.')
param keyVaultName string

@description('Name of the Key Vault secret holding the Ed25519 private key (PEM) that signs snapshots.')
param signingKeySecretName string = 'snapshot-signing-key'

@description('Globally unique name of the storage account for the immutable snapshots: 3 to 24 lower-case letters and digits.')
@minLength(3)
@maxLength(24)
param storageAccountName string

@description('Globally unique name of the storage account for the worker\'s state share: 3 to 24 lower-case letters and digits.')
@minLength(3)
@maxLength(24)
param stateStorageAccountName string

@description('Days a snapshot cannot be changed or deleted (container-level time-based retention, created unlocked).')
@minValue(1)
@maxValue(146000)
param snapshotRetentionDays int = 400

@description('Days Log Analytics keeps logs and telemetry.')
@minValue(30)
@maxValue(730)
param logRetentionDays int = 90

@description('Address that receives the alert rules\' e-mails.')
param alertEmail string

@description('A Teams incoming-webhook (Workflows) URL for the alert rules; empty for e-mail only.')
// checkov:skip=CKV_AZURE_131:the default is the empty string, meaning "no Teams receiver", not a secret
@secure()
param teamsWebhookUrl string = ''

// Role definitions (built-in; the ids are the same in every tenant).
var roles = {
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  acrPull: '7f951dda-4ed3-4680-a7ca-43fe172d538d'
}
var snapshotContainerName = 'compliance-snapshots'
var stateShareName = 'entra-monitor-state'

// ── Identity ─────────────────────────────────────────────────────────────────────────────────

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' = {
  name: 'id-${prefix}'
  location: location
}

// ── Logs and telemetry ───────────────────────────────────────────────────────────────────────

resource workspace 'Microsoft.OperationalInsights/workspaces@2025-02-01' = {
  name: 'log-${prefix}'
  location: location
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: logRetentionDays
    // Container Apps logs go through diagnostic settings, which work without shared keys.
    features: { disableLocalAuth: true }
    workspaceCapping: { dailyQuotaGb: -1 }
    publicNetworkAccessForIngestion: 'Enabled'
    publicNetworkAccessForQuery: 'Enabled'
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: 'appi-${prefix}'
  location: location
  kind: 'web'
  properties: {
    Application_Type: 'other'
    WorkspaceResourceId: workspace.id
    // Only Entra-authenticated ingestion: the instrumentation key alone cannot send telemetry.
    DisableLocalAuth: true
    IngestionMode: 'LogAnalytics'
  }
}

resource metricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, identity.id, roles.monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// ── Storage: immutable snapshots, and the worker's state on a file share ─────────────────────

// Snapshots: written with the identity (RBAC) only; no account key or SAS works on this account.
resource storage 'Microsoft.Storage/storageAccounts@2025-06-01' = {
  // checkov:skip=CKV_AZURE_35:Container Apps on the Consumption profile without a virtual network reaches storage over public endpoints; denying them would cut the worker off (a VNet with private endpoints closes this)
  // checkov:skip=CKV_AZURE_59:same reason as CKV_AZURE_35; anonymous access and shared keys are off, so every request needs an Entra token with a data role
  // checkov:skip=CKV_AZURE_43:the name is a parameter (bounded by @minLength/@maxLength, checked by ARM), not a literal checkov can evaluate
  name: storageAccountName
  location: location
  kind: 'StorageV2'
  sku: { name: 'Standard_GZRS' }
  properties: {
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    allowBlobPublicAccess: false
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: { defaultAction: 'Allow', bypass: 'AzureServices' }
  }

  resource blobService 'blobServices@2025-06-01' = {
    name: 'default'
    properties: {
      isVersioningEnabled: true
      deleteRetentionPolicy: { enabled: true, days: 30 }
      containerDeleteRetentionPolicy: { enabled: true, days: 30 }
    }

    resource snapshots 'containers@2025-06-01' = {
      name: snapshotContainerName
      properties: { publicAccess: 'None' }

      // Time-based retention, created unlocked; lock it once tested (docs/deployment.md): a locked
      // policy cannot be removed and the blobs it holds cannot be deleted before it ends.
      resource retention 'immutabilityPolicies@2025-06-01' = {
        name: 'default'
        properties: {
          immutabilityPeriodSinceCreationInDays: snapshotRetentionDays
          allowProtectedAppendWrites: false
        }
      }
    }
  }
}

// The worker's state (SQLite) on Azure Files. Container Apps mounts a share with the account key
// only (SMB), so this is a separate account: the snapshots' account keeps shared keys off.
resource stateStorageAccount 'Microsoft.Storage/storageAccounts@2025-06-01' = {
  // checkov:skip=CKV_AZURE_35:Container Apps on the Consumption profile without a virtual network mounts the share over the public endpoint; denying it would cut the worker off (a VNet with private endpoints closes this)
  // checkov:skip=CKV_AZURE_59:same reason as CKV_AZURE_35; the share is reachable only with the account key, which only the Container Apps environment holds
  // checkov:skip=CKV_AZURE_43:the name is a parameter (bounded by @minLength/@maxLength, checked by ARM), not a literal checkov can evaluate
  name: stateStorageAccountName
  location: location
  kind: 'StorageV2'
  sku: { name: 'Standard_GZRS' }
  properties: {
    allowSharedKeyAccess: true
    minimumTlsVersion: 'TLS1_2'
    allowBlobPublicAccess: false
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: { defaultAction: 'Allow', bypass: 'AzureServices' }
  }

  resource fileService 'fileServices@2025-06-01' = {
    name: 'default'

    resource state 'shares@2025-06-01' = {
      name: stateShareName
      properties: {
        shareQuota: 5
        enabledProtocols: 'SMB'
      }
    }
  }
}

// Write access to the snapshot container only, not to the account.
resource snapshotWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage::blobService::snapshots.id, identity.id, roles.storageBlobDataContributor)
  scope: storage::blobService::snapshots
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// ── Key Vault and registry access ────────────────────────────────────────────────────────────

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName

  resource signingKey 'secrets' existing = {
    name: signingKeySecretName
  }
}

// Read access to the one secret the app references, granted before the app is created.
resource signingKeyReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault::signingKey.id, identity.id, roles.keyVaultSecretsUser)
  scope: vault::signingKey
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' existing = if (!empty(registryName)) {
  name: registryName
}

resource imagePuller 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(registryName)) {
  name: guid(resourceGroup().id, registryName, identity.id, roles.acrPull)
  scope: registry
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.acrPull)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// ── Container Apps ───────────────────────────────────────────────────────────────────────────

resource environment 'Microsoft.App/managedEnvironments@2025-07-01' = {
  name: 'cae-${prefix}'
  location: location
  properties: {
    appLogsConfiguration: {
      destination: 'azure-monitor'
    }
    workloadProfiles: [
      { name: 'Consumption', workloadProfileType: 'Consumption' }
    ]
  }

  resource stateStorage 'storages@2025-07-01' = {
    name: 'state'
    properties: {
      azureFile: {
        accountName: stateStorageAccount.name
        accountKey: stateStorageAccount.listKeys().keys[0].value
        shareName: stateShareName
        accessMode: 'ReadWrite'
      }
    }
  }
}

resource environmentLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'logs-to-workspace'
  scope: environment
  properties: {
    workspaceId: workspace.id
    logs: [
      { category: 'ContainerAppConsoleLogs', enabled: true }
      { category: 'ContainerAppSystemLogs', enabled: true }
    ]
  }
}

// The settings file, filled in (one replace per value).
var settingsTemplate = loadTextContent('monitor.toml')
var settingsWithTenant = replace(replace(settingsTemplate, '{{tenantName}}', tenantName), '{{tenantId}}', identity.properties.tenantId)
var settingsWithIdentity = replace(settingsWithTenant, '{{identityClientId}}', identity.properties.clientId)
var settingsWithBlob = replace(settingsWithIdentity, '{{blobAccountUrl}}', storage.properties.primaryEndpoints.blob)
var settingsFile = replace(settingsWithBlob, '{{snapshotContainer}}', snapshotContainerName)

resource app 'Microsoft.App/containerApps@2025-07-01' = {
  name: 'ca-${prefix}'
  location: location
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identity.id}': {} }
  }
  dependsOn: [
    signingKeyReader
    imagePuller
  ]
  properties: {
    environmentId: environment.id
    workloadProfileName: 'Consumption'
    configuration: {
      activeRevisionsMode: 'Single'
      // No ingress: nothing calls the worker. The platform probes its health port directly.
      registries: empty(registryName) ? [] : [
        { server: '${registryName}.azurecr.io', identity: identity.id }
      ]
      secrets: [
        { name: 'monitor-toml', value: settingsFile }
        {
          name: 'snapshot-signing-key'
          keyVaultUrl: '${vault.properties.vaultUri}secrets/${signingKeySecretName}'
          identity: identity.id
        }
      ]
    }
    template: {
      // SIGTERM, then worker.grace_seconds (30) for running checks and the telemetry flush.
      terminationGracePeriodSeconds: 45
      containers: [
        {
          name: 'monitor'
          image: image
          args: [ 'run' ]
          // Everything else is in the mounted settings file; the connection string names the
          // ingestion endpoint (its key alone cannot send: local authentication is off).
          env: [
            { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: appInsights.properties.ConnectionString }
          ]
          // docs/performance.md: consent-grants peaks near 400 MB on a 100,000-application tenant,
          // and up to 4 checks run at once; 1 GiB with half a core (the pair Container Apps requires).
          resources: { cpu: json('0.5'), memory: '1Gi' }
          probes: [
            { type: 'Startup', httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 5, failureThreshold: 10 }
            { type: 'Liveness', httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 30, timeoutSeconds: 5, failureThreshold: 3 }
            { type: 'Readiness', httpGet: { path: '/readyz', port: 8080 }, periodSeconds: 15, timeoutSeconds: 5, failureThreshold: 3 }
          ]
          volumeMounts: [
            { volumeName: 'state', mountPath: '/var/lib/entra-monitor' }
            { volumeName: 'settings', mountPath: '/etc/entra-monitor/config' }
          ]
        }
      ]
      volumes: [
        {
          name: 'state'
          storageType: 'AzureFile'
          storageName: environment::stateStorage.name
          // SQLite on SMB: no byte-range locks (nobrl), files owned by the image's user 10001.
          mountOptions: 'uid=10001,gid=10001,dir_mode=0700,file_mode=0600,nobrl,mfsymlinks'
        }
        {
          name: 'settings'
          storageType: 'Secret'
          secrets: [
            { secretRef: 'monitor-toml', path: 'monitor.toml' }
            { secretRef: 'snapshot-signing-key', path: 'snapshot-signing-key.pem' }
          ]
        }
      ]
      // One replica, always: the worker is one scheduler for its set of tenants with one SQLite
      // state, so a second replica would run every check twice and announce every finding twice;
      // and without ingress there is no scale trigger, so 0 would mean it never runs.
      scale: { minReplicas: 1, maxReplicas: 1 }
    }
  }
}

// ── Alerts ───────────────────────────────────────────────────────────────────────────────────

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: 'ag-${prefix}'
  location: 'global'
  properties: {
    groupShortName: 'entramon'
    enabled: true
    emailReceivers: [
      { name: 'security-team', emailAddress: alertEmail, useCommonAlertSchema: true }
    ]
    webhookReceivers: empty(teamsWebhookUrl) ? [] : [
      { name: 'teams', serviceUri: teamsWebhookUrl, useCommonAlertSchema: true }
    ]
  }
}

var alertRules = [
  {
    name: 'critical-finding'
    displayName: 'Entra monitor: new critical finding'
    description: 'A critical compliance finding was opened, reopened or raised to critical.'
    severity: 0
    query: loadTextContent('alerts/critical-finding.kql')
    frequency: 'PT5M'
    window: 'PT5M'
    operator: 'GreaterThan'
    threshold: 0
  }
  {
    name: 'check-failing'
    displayName: 'Entra monitor: a check keeps failing'
    description: 'A check failed several runs in a row; its findings are not being updated.'
    severity: 2
    query: loadTextContent('alerts/check-failing.kql')
    frequency: 'PT15M'
    window: 'PT15M'
    operator: 'GreaterThan'
    threshold: 0
  }
  {
    name: 'worker-silent'
    displayName: 'Entra monitor: worker silent'
    description: 'No metrics from the worker for 30 minutes: it is down, stuck or cannot reach Application Insights.'
    severity: 1
    query: loadTextContent('alerts/worker-silent.kql')
    frequency: 'PT15M'
    window: 'PT30M'
    operator: 'LessThan'
    threshold: 1
  }
]

resource rules 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [for rule in alertRules: {
  name: 'alert-${prefix}-${rule.name}'
  location: location
  kind: 'LogAlert'
  properties: {
    displayName: rule.displayName
    description: rule.description
    severity: rule.severity
    enabled: true
    scopes: [ appInsights.id ]
    evaluationFrequency: rule.frequency
    windowSize: rule.window
    criteria: {
      allOf: [
        {
          query: rule.query
          timeAggregation: 'Count'
          operator: rule.operator
          threshold: rule.threshold
          failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
        }
      ]
    }
    autoMitigate: true
    actions: { actionGroups: [ actionGroup.id ] }
  }
}]

// ── Workbook ─────────────────────────────────────────────────────────────────────────────────

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(resourceGroup().id, 'entra-compliance-monitor-workbook')
  location: location
  kind: 'shared'
  properties: {
    displayName: 'Entra compliance monitor (${prefix})'
    category: 'workbook'
    sourceId: toLower(appInsights.id)
    version: 'Notebook/1.0'
    serializedData: replace(loadTextContent('workbook.json'), '{{appInsightsId}}', appInsights.id)
  }
}

output identityName string = identity.name
output identityClientId string = identity.properties.clientId
output identityPrincipalId string = identity.properties.principalId
output containerAppName string = app.name
output applicationInsightsName string = appInsights.name
output snapshotContainerUrl string = '${storage.properties.primaryEndpoints.blob}${snapshotContainerName}'
