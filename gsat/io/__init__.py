"""Files that are never seen half-written, and checkpoints and released NumPy pickles read
without running code: the safe input and output every other layer (data caches, run
folders) goes through."""
