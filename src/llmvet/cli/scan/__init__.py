"""`llmvet scan`'s parts: inputs -> documents -> one policy run per document -> a report in a format."""
