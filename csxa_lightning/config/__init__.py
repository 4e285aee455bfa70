"""The configuration layer: resolvers, value checks, the paper's protocol, preflight, and
the Hydra callbacks.
"""
