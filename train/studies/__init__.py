"""Studies that inform decisions but that shipping a model does not need: run comparisons, TTA, heatmaps, memory, EDA."""
