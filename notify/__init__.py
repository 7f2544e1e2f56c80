"""Notifications: compose from templates, send through ACS (or the outbox), record in the ledger."""
