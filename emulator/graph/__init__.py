"""The emulated Microsoft Graph: endpoints, OData query options, paging, batching."""
