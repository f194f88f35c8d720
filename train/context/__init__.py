"""Patient context (age, sex, body site) folded into the image's estimate; see fusion.py."""
