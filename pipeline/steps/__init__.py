"""One module per pipeline step; pipeline/cycle.py puts them in order."""
