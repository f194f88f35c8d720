"""From logits to what the page shows: class-balance correction, temperature, operating point, combining photos."""
