"""Collectors: the only code that talks to Microsoft Graph. Raw pages in, slim records out."""
