"""Nära's custom actions (rasa-sdk): one capability per module; they read slots, call knowledge/, reply."""
