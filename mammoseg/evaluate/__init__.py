"""Full-image inference, metrics over a test set and reports."""
