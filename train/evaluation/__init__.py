"""Evaluation of a trained model on held-out images: metrics, bootstrap intervals, figures, learning curve."""
