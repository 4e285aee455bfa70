"""Training one run: its Lightning callbacks, checkpoints, decision rule, loggers and the
job around a run folder.
"""
