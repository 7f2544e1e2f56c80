"""Collectors: the only code that talks to Microsoft Graph and Exchange. Raw pages in, slim records out."""
