"""What each org decides and spends: its preferences (LLM opt-in, Discord) and its monthly LLM usage and budget."""
