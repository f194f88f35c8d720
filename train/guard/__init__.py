"""The "not a lesion" guard: fitting its statistics, its evaluation set, and its evaluation."""
