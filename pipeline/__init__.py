"""The pipeline: settings, the one wiring of the I/O shell, the steps and the cycle that orders them."""
