"""Static policy checks: import rules, checkpoints read as data, packaging, the README."""
