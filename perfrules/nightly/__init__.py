"""The nightly run: the run directory with its five outputs, and the state store that says what changed since the last run."""
