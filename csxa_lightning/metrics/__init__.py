"""Pure statistics: classification metrics, tests, calibration, thresholds, subgroups and
the paper's published table. They import only utils.
"""
