# Two commands for a reader: `make book` (executed HTML in _build/html) and `make test`.
# Both create .venv with python3 when missing and reuse it while the lock is unchanged.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
SCHNETPACK := schnetpack==2.2.0

.PHONY: venv book test test-fast data data-verify models relevance synthetic md bench-relevance partition transfer poly poly-equal orbitals manybody clean clean-book

venv: $(STAMP)

# Re-install only when the lock or the package metadata changed.
$(STAMP): requirements.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	# schnetpack 2.2.0 declares Python >= 3.12 but runs on 3.11; its dependencies are in the lock.
	$(PY) -m pip install --quiet --no-deps --ignore-requires-python $(SCHNETPACK)
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

book: $(STAMP)
	$(VENV)/bin/jupyter-book build . -W --keep-going

test: $(STAMP)
	$(PY) -m pytest

test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow and not book"

clean-book:
	rm -rf _build

clean: clean-book
	rm -rf $(VENV)

# Regenerate every dataset in data/ (GFN2-xTB labels; build times in data/README.md), then verify the manifest.
data: $(STAMP)
	OMP_NUM_THREADS=1 $(PY) -m xailib data build --workers 2
	$(PY) -m xailib data verify

data-verify: $(STAMP)
	$(PY) -m xailib data verify

# Retrain every shipped model under data/models/ from configs/ (CPU, one at a time; ~8 min each).
models: $(STAMP)
	PYTHON=$(abspath $(PY)) scripts/train_all.sh
	$(PY) -m xailib study models-table

# Chapters 03-06: exact 1-3-body relevances (walks and bias terms) of the nci-small models on the nci-small
# test split (data/relevance/, ~100 s per model and rule for the 660 test frames on one core; existing
# files are kept, --force redoes). Full terms for the primary (seed 0) energy models under rule gi; the gap
# models, the gamma rule (reference composite) and the seed replicas (first 4 frames of each of the 60 test
# molecules) are stored to order 2 with complete per-structure order sums, so data/ stays under its budget.
PRIMARY = nci-small-energy-schnet nci-small-energy-painn
PRIMARY_ALL = $(PRIMARY) nci-small-gap-schnet nci-small-gap-painn nci-small-energy-schnet6
REPLICAS = nci-small-energy-schnet-seed1 nci-small-energy-schnet-seed2 nci-small-energy-painn-seed1 \
	nci-small-energy-painn-seed2 nci-small-gap-schnet-seed1 nci-small-gap-painn-seed1 nci-small-energy-schnet6-seed1
EXPLAIN = OMP_NUM_THREADS=1 $(PY) -m xailib study explain-test-sets
relevance: $(STAMP)
	$(EXPLAIN) $(PRIMARY)
	$(EXPLAIN) nci-small-gap-schnet nci-small-gap-painn --stored-order 2
	$(EXPLAIN) $(PRIMARY_ALL) --rule gamma --composite reference --stored-order 2
	$(EXPLAIN) $(REPLICAS) --stored-order 2 --frames-per-molecule 4
	$(EXPLAIN) $(REPLICAS) --rule gamma --composite reference --stored-order 2 --frames-per-molecule 4
	$(EXPLAIN) nci-small-energy-schnet6 --stored-order 2

# Known answers (chapter 03b): synthetic-label copies of nci-small (data/synthetic/build/, ~25 s each), SchNet
# and PaiNN trained on each potential with seeds 0 and 1 (data/synthetic/models/, not committed; 10 min per
# SchNet and 15 per PaiNN run on one core, two runs at a time, resumable), then their relevances and those of
# the random-initialisation baselines on the 60 test molecules (data/synthetic/results/, ~3 min per model).
synthetic: $(STAMP)
	PYTHON=$(abspath $(PY)) scripts/train_synthetic.sh
	OMP_NUM_THREADS=1 $(PY) -m xailib study synthetic explain

# Chapter 05: GFN2-xTB frontier-orbital populations of the 60 test molecules (seconds) and the far-dimer
# test (30 pairs, every shipped energy and gap seed; ~3 min on one core): data/orbitals/.
orbitals: $(STAMP)
	OMP_NUM_THREADS=1 $(PY) -m xailib study orbitals
	OMP_NUM_THREADS=1 $(PY) -m xailib study dimers

# Chapter 06: per-order sums of the complete n-body terms (orders 1-4) of every shipped energy seed and the
# untrained baselines, 60 test molecules (~8 min on one core): data/manybody/nci-small-energy.npz.
manybody: $(STAMP)
	OMP_NUM_THREADS=1 $(PY) -m xailib study manybody

# MD-stability study of ethanol (chapter 07), in order: train the family (data/md/models/, ~6 min each), 500 K
# MD of GFN2-xTB and of every model (5 seeds x 10 ps, ~1.5-2 min per run), explanation metrics (~1 min per
# model); results in data/md/ethanol/. Extra model folders (e.g. data/poly/models/ethanol-*) are picked up.
MD_MODELS = data/models/md17-ethanol-schnet data/models/md17-ethanol-painn data/md/models/* $$(ls -d data/poly/models/ethanol-* 2>/dev/null)
md: $(STAMP)
	OMP_NUM_THREADS=1 $(PY) -m xailib study md family
	OMP_NUM_THREADS=1 $(PY) -m xailib study md run ethanol xtb $(MD_MODELS)
	OMP_NUM_THREADS=1 $(PY) -m xailib study md explain ethanol $(MD_MODELS)

# Relevance engine speed: fast exact walks and n-body terms vs the brute-force reference (2 threads).
bench-relevance: $(STAMP)
	OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE $(PY) benchmarks/bench_relevance.py --threads 2

# Chapter 09: HF/STO-3G atomic energies (AO and MO schemes) of the relaxed NCI structures, the input of
# `make transfer` (data/partition/; about 9 min for nci-small and 12 min for the nci-large subset on one core).
partition: $(STAMP)
	OMP_NUM_THREADS=1 $(PY) -m xailib study partition nci-small
	OMP_NUM_THREADS=1 $(PY) -m xailib study partition nci-large --n-molecules 150 --seed 0

# Chapters 08-09 (transferability; needs data/partition/ from `make partition`): adversarial-validation cache, the six atomic-energy models of
# configs/transfer/ (weights to data/transfer/models/, not committed; <= 4 min each) and their results.
transfer: $(STAMP)
	OMP_NUM_THREADS=1 $(PY) -m xailib study transfer adversarial
	OMP_NUM_THREADS=1 $(PY) -m xailib study transfer train configs/transfer/*.yaml
	OMP_NUM_THREADS=1 $(PY) -m xailib study transfer eval

# Chapter 10's controlled comparison (configs/poly/equal/): 12 runs of 25 epochs, resumable, one thread each
# (a second `scripts/train_poly_equal.sh` in another shell shares the work); then the relevances and
# data/poly/equal.json. About 5 h of one core.
poly-equal: $(STAMP)
	PYTHON=$(PY) scripts/train_poly_equal.sh
	OMP_NUM_THREADS=1 $(PY) -m xailib study poly equal-explain
	OMP_NUM_THREADS=1 $(PY) -m xailib study poly equal

# Chapter 10: the polynomial-envelope variants (configs/poly/, weights to data/poly/models/, not committed),
# their ethanol MD runs and relevances, then data/poly/results.json (about 1.5 h on one core).
poly: $(STAMP)
	for c in configs/poly/*.yaml; do OMP_NUM_THREADS=1 $(PY) -m xailib train --config $$c --out data/poly/models/$$(basename $$c .yaml) --overwrite || exit 1; done
	OMP_NUM_THREADS=1 $(PY) -m xailib study md run ethanol data/poly/models/ethanol-schnet-poly data/poly/models/ethanol-painn-poly
	OMP_NUM_THREADS=1 $(PY) -m xailib study poly explain --models-dir data/poly/models
	OMP_NUM_THREADS=1 $(PY) -m xailib study poly summarise --models-dir data/poly/models
