"""One module per pipeline step; core/pipeline.py puts them in order."""
