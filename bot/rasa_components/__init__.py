"""Nära's own Rasa NLU components (registered with Rasa's recipe when config.yml imports them)."""
