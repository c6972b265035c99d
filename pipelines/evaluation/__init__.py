"""How a finished model is scored (metrics: accuracy, macro-F1, confusion matrix, split hashes) and the summary
``make run`` prints."""
