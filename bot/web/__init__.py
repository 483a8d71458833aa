"""The public web app: the embeddable chat widget, a demo municipal page and the accessibility statement."""
