"""Shared core: settings, domain records, clock and the pipeline that joins the steps."""
