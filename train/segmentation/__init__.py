"""The lesion's outline (a decoder on the classifier's frozen backbone) and the measures read from an outline."""
