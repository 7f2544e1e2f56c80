"""`python -m cli`."""

from cli.commands import app

app()
