"""Human review: the queue of tasks made from clips the enforcement point allows."""
