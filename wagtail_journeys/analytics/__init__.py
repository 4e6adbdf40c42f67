"""Journey and email reports: counters kept up to date as things happen, and the reads over them."""
