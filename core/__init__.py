"""The kernel: domain records, findings, run results, narrow configs, ports, clock. Imports nothing of ours."""
