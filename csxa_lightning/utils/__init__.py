"""Plain helpers every layer may use: errors, files written whole, processes, paths.

They import nothing else of the package.
"""
