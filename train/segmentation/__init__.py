"""The lesion's outline: a light decoder on the classifier's frozen backbone (``python -m train.segmentation``),
and the measures a dermatologist reads from an outline (measures.py)."""
