"""Files that are never seen half-written and checkpoints read without running code: the
safe input and output every other layer (data caches, run folders) writes through."""
