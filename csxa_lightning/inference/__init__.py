"""Using a trained model: loading a checkpoint, scoring films, and the inputs and outputs
of predict and evaluate.
"""
