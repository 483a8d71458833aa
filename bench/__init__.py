"""`make bench`: Nära against stock Rasa through the real REST channel (bench/run.py, bench/README.md)."""
