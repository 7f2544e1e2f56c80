"""Azure Functions blueprints: thin wiring from triggers to the pipeline and the reports."""
