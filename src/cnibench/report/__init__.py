"""What a person reads: the terminal summary (and, later, HTML/Markdown reports)."""
