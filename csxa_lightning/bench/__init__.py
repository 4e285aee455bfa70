"""Benchmarks: `python -m csxa_lightning.bench` (training throughput, make bench),
`python -m csxa_lightning.bench data` (cache, loaders and SMOTE memory, make bench-data) and
`python -m csxa_lightning.bench device` (the GPU check, make bench-device).

training.py composes the training benchmark, one function per measurement; settings.py holds
its options and sizes, timing.py its clocks, naive.py the naive baseline it compares against,
training_report.py its ratios and table. data.py and device.py are the other two modes."""
