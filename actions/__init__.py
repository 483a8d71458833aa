"""Nära's custom actions (rasa-sdk): one capability per module; they read slots, call knowledge/, reply."""

from bot.privacy import install_log_redaction

# The action server's logs (and rasa-sdk's) never show a personnummer, phone number, e-mail or address.
install_log_redaction()
