"""The command line (`python -m cli …`): the same steps as the timers, run locally, and the reports."""
