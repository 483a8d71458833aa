# Thin: every target calls a script in scripts/.
.PHONY: run test shell train bootstrap evaluate validate cluster bench

run:        ## set up, train if needed, start the bot (Rasa :5005, actions :5055)
	scripts/run
test:       ## set up and run the whole suite (what CI runs)
	scripts/test
shell:      ## chat with the bot in the terminal
	scripts/shell
train:      ## train a model if data, knowledge or config changed
	scripts/train
bootstrap:  ## create .venv and install everything
	scripts/bootstrap
evaluate:   ## NLU and retrieval evaluation on held-out examples -> reports/
	scripts/bootstrap && .venv/bin/nara evaluate
validate:   ## validate the knowledge base
	scripts/bootstrap && .venv/bin/nara knowledge validate
cluster:    ## PostgreSQL, Redis, several Rasa and action servers behind nginx, on loopback (docs/scaling.md)
	scripts/cluster
bench:      ## Nära against stock Rasa under load -> reports/bench.md, reports/bench.png
	scripts/bench
