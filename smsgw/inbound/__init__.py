"""Citizens' texts to the short code: a persisted queue, guards, the subscription commands."""
