"""Everything that runs beside Rasa: settings, the spaCy model build, evaluation and the `nara` CLI."""
