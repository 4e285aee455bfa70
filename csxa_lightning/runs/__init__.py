"""The run folder, the one owner of its format: files, lock, identity, metrics.json's content."""
