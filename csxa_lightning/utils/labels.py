"""The two classes, in the order of the labels (0, 1) and of the model's outputs.

Imported by the data side (split messages), the model, the report and the exports; it imports
nothing, so the data side needs neither the model nor torch to name a class.
"""

CLASS_NAMES = ("healthy", "diseased")
