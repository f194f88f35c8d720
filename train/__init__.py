"""Training, evaluation and data handling for the HAM10000 lesion classifier."""
