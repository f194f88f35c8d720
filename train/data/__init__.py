"""Data: find and validate labelled images, split them by lesion, preprocess, augment and feed them to training."""
