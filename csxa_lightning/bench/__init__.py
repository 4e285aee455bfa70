"""Benchmarks: `python -m csxa_lightning.bench` (training throughput, make bench) and
`python -m csxa_lightning.bench data` (cache, loaders and SMOTE memory, make bench-data)."""
