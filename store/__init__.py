"""Azure Table Storage: one module per table; PartitionKey is the tenant id everywhere."""
