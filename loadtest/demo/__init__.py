"""`loadtest demo`: the whole pipeline on this machine, driven by the error-spike scenario."""
