# Thin wrappers: tasks.py does the work and needs only python3.
.PHONY: demo test bench
demo:
	python3 tasks.py demo
test:
	python3 tasks.py test
