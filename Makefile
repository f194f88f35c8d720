# One-command set-up: `make serve` (install, build the site with the shipped model, serve it) and
# `make test` (install with test extras, run the whole suite, browser tests included).
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
DATA ?= ../shared/data/ham10000
# Sharper copies (224 px crops of the originals) that replace DATA's 200x150 images of the same id.
SHARP ?= ../shared/data/ham10000_224_subset/images
WEIGHTS ?= ../shared/weights/mobilenet_v2_1.0_224_torchvision_imagenet1k_v1_keras_no_top.h5
MODEL := models/ham10000
# Dermoscopy from other clinics (ISIC Archive): its committed split's external test part is the `external` condition.
EXTRA ?= ../shared/data/isic2017_256
EXTERNAL_LABELS := train/data/splits/isic2017_256_test.csv
EXTERNAL := --images $(EXTRA)/images --labels $(EXTERNAL_LABELS)
# the ISIC validation part: what trials that do not train on ISIC are judged by (the external test chooses nothing)
INNER := --images $(EXTRA)/images --labels train/data/splits/isic2017_256_inner.csv

.PHONY: outline outline-reports graph-reports segmentation shipped-negatives-guard-trial every-clinic-trials every-clinic-colour-trial every-clinic-alone-trials every-clinic-joint-trials every-clinic-distil3-trial install serve build test train context evaluate export metadata eda compare-train ood change-margin combine explain tta reports backbones ood-eval learning-curve cosine-trial all-layers-trial seed-trial seed-test acquisition-trials acquisition-val-pairs consistency-trials pairs-only-trial consistency-weight-trial late-consistency-trials input-size-trial extra-data-trials extra-aspect-trial optics-trial extra-per-source-guard-trial extra-late-guard-trial extra-guard-trial skin-tone browser-evaluate

$(BIN)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	$(BIN)/pip check
	touch $@

install: $(BIN)/.installed

build: install
	$(BIN)/python build.py

serve: install
	$(BIN)/python build.py --serve

node_modules/.installed: package.json package-lock.json
	npm ci --silent --no-audit --no-fund
	touch $@

test: install node_modules/.installed
	$(BIN)/python -m pytest

# The shipped model, end to end (CPU, 23-31 minutes on 2 cores); see README. Seed 7 scored higher on
# validation than the default 42 with the same recipe (the seed-42 run is a row of `make backbones`).
# The shipped recipe's options; the trials below add the one option they change (argparse keeps the last).
RECIPE := --alpha 1.0 --size 160 --imbalance sampling --backbone-weights $(WEIGHTS) --mask-weight 1 --monitor adjusted \
	--fine-tune-from block_4 --fine-tune-epochs 14 --seed 7 --override-images $(SHARP) --acquisition --melanoma-floor 0.85
train: install
	$(BIN)/python -m train --data $(DATA) --out $(MODEL) $(RECIPE)
	$(BIN)/python -m train.guard.ood --model $(MODEL)
	$(BIN)/python -m train.calibration.change_margin --model $(MODEL)
	$(BIN)/python -m train.calibration.combine --model $(MODEL)
	$(BIN)/python -m train.context --model $(MODEL)
	$(BIN)/python -m train.segmentation --model $(MODEL)

# The lesion outline's decoder on the shipped run's frozen backbone (part of `make train`; train/segmentation/).
outline: install
	$(BIN)/python -m train.segmentation --model $(MODEL)

# The outline against HAM10000's masks on the test split, 200x150 copies and sharp crops, in both runtimes: the
# Keras run and the exported TF.js model through the page's classifier.js (part of `make reports`).
segmentation: install segmentation-keras segmentation-browser
	$(BIN)/python -m train.studies.lesion_measures --images $(LOW_IMAGES) --masks $(DATA)/masks --labels $(TEST_LABELS) \
		--model $(MODEL) --out reports/segmentation/measures_low.json
	$(BIN)/python -m train.studies.lesion_measures --images $(SHARP) --masks $(DATA)/masks --labels $(TEST_LABELS) \
		--missing skip --model $(MODEL) --out reports/segmentation/measures_sharp.json
segmentation-%: install
	$(BIN)/python -m train.evaluation.segmentation --images $(LOW_IMAGES) --masks $(DATA)/masks --labels $(TEST_LABELS) \
		--runtime $* --model $(if $(filter browser,$*),site/model,$(MODEL)) --out reports/segmentation/$*/low
	$(BIN)/python -m train.evaluation.segmentation --images $(SHARP) --masks $(DATA)/masks --labels $(TEST_LABELS) \
		--missing skip --runtime $* --model $(if $(filter browser,$*),site/model,$(MODEL)) --out reports/segmentation/$*/sharp

# Age, sex and body site folded into the estimate, fitted and judged by the ship rule (part of `make train`;
# train/context/): writes $(MODEL)/context.json and reports/context/validation.json.
context: install
	$(BIN)/python -m train.context --model $(MODEL)

# The OOD guard's statistics (part of `make train`; rerun after changing the guard).
ood: install
	$(BIN)/python -m train.guard.ood --model $(MODEL)

# How far the malignancy score moves between two photos of one unchanged lesion (part of `make train`).
change-margin: install
	$(BIN)/python -m train.calibration.change_margin --model $(MODEL)

# How several photos of one lesion are combined into one answer, and a combined visit's noise (part of
# `make train`).
combine: install
	$(BIN)/python -m train.calibration.combine --model $(MODEL)

# Three evaluation conditions, always side by side: `low` (the 200x150 copies, all test images), `sharp`
# (the 224 px crops of the originals, the test images that have one, with their 200x150 copies scored too) and
# `external` (other clinics: the ISIC Archive's external test part, train/data/splits/, never trained on).
TEST_LABELS := $(MODEL)/test_labels.csv
LOW_IMAGES := $(DATA)/images
# The sharp condition: the 224 crops where they exist, each with its 200x150 copy scored under `paired`.
SHARP_PAIRS := --images $(SHARP) --missing skip --paired-images $(LOW_IMAGES)
# Each condition also writes predictions.csv, the official ISIC scorer's figures and the skin-tone table (HAM10000's
# masks for its images; the ISIC part has none, so Otsu's); skin-tone writes the segmentation check on validation
# and the training split's ITA distribution.
MASKS := --masks $(DATA)/masks
# HAM10000's age, sex and body site: the with_context figures (train/context/); the ISIC part has too little of them.
CONTEXT := --context $(DATA)/metadata.csv
evaluate: install
	$(BIN)/python -m train.evaluation.evaluate --images $(LOW_IMAGES) --labels $(TEST_LABELS) $(MASKS) $(CONTEXT) --out reports/test/keras/low
	$(BIN)/python -m train.evaluation.evaluate $(SHARP_PAIRS) --labels $(TEST_LABELS) $(MASKS) $(CONTEXT) --out reports/test/keras/sharp
	$(BIN)/python -m train.evaluation.evaluate $(EXTERNAL) --out reports/test/keras/external
	$(MAKE) skin-tone

skin-tone: install
	$(BIN)/python -m train.evaluation.skin_tone --images $(LOW_IMAGES) $(MASKS) --split $(MODEL)/split.csv --out reports/skin_tone

browser-evaluate: install
	$(BIN)/python -m train.evaluation.evaluate --images $(LOW_IMAGES) --labels $(TEST_LABELS) $(MASKS) $(CONTEXT) --out reports/test/browser/low --runtime browser
	$(BIN)/python -m train.evaluation.evaluate $(SHARP_PAIRS) --labels $(TEST_LABELS) $(MASKS) $(CONTEXT) --out reports/test/browser/sharp --runtime browser
	$(BIN)/python -m train.evaluation.evaluate $(EXTERNAL) --out reports/test/browser/external --runtime browser

TEST_METRICS := --test-metrics low=reports/test/keras/low/metrics.json sharp=reports/test/keras/sharp/metrics.json \
	external=reports/test/keras/external/metrics.json
export: install
	$(BIN)/python -m export --model $(MODEL) --out site/model $(TEST_METRICS)

# metadata.json alone, for the model already in site/model (after a change to what the metadata carries).
metadata: install
	$(BIN)/python -m export --model $(MODEL) --out site/model --metadata-only $(TEST_METRICS)

# Everything measured after training, in dependency order (about 35 minutes on 2 cores).
reports: evaluate export browser-evaluate graph-reports
	$(MAKE) explain tta ood-eval learning-curve segmentation

# What the exported graph alone decides: parity with Keras, the quantization check and the benchmark.
graph-reports: install
	$(BIN)/python -m export.parity --images $(LOW_IMAGES) --labels $(MODEL)/val_labels.csv --n 200 --out reports/parity.json
	$(BIN)/python -m export.parity --images $(SHARP) --labels $(MODEL)/val_labels.csv --missing skip --n 200 --out reports/parity_sharp.json
	$(BIN)/python -m export.studies.quantization_test --out reports/quantization_test.json
	$(BIN)/python -m export.studies.bench --out reports/bench.json

# After an export that adds to the graph but keeps the classifier's weights (make outline, then make export): the
# reports that read the exported model or the outline (the external part's skin tone uses the outline); the Keras
# classifier's other reports stand, bit for bit.
outline-reports: install
	$(BIN)/python -m train.evaluation.evaluate $(EXTERNAL) --out reports/test/keras/external
	$(MAKE) browser-evaluate graph-reports segmentation

learning-curve: install
	$(BIN)/python -m train.evaluation.learning_curve --model $(MODEL) --out reports/training

explain: install
	$(BIN)/python -m train.studies.explain_eval --images $(LOW_IMAGES) --labels $(TEST_LABELS) --masks $(DATA)/masks --out reports/explain

tta: install
	$(BIN)/python -m train.studies.tta --model $(MODEL) --bench reports/bench.json --out reports/tta.json

# The non-lesion set and the lesions every guard is scored on (ood-eval and the extra-data trials).
OOD_SET := $(BIN)/python -m train.guard.ood_set --out runs/ood_set --lesion-images $(LOW_IMAGES) --lesion-labels $(TEST_LABELS)
OOD_EVAL_SETS := --ood-set runs/ood_set --images low=$(LOW_IMAGES) sharp=$(SHARP) --labels $(TEST_LABELS)
ood-eval: install
	$(OOD_SET)
	$(BIN)/python -m train.guard.ood_eval --model $(MODEL) $(OOD_EVAL_SETS) --out reports/ood

eda: install
	$(BIN)/python -m train.studies.eda --data $(DATA) --out reports/eda

# Backbone comparison (#7): the shipped recipe (same split, seed, schedule) on the other backbones/sizes,
# plus the Teachable-Machine baseline (frozen alpha-0.35 at 224 + a dense head, no fine-tuning), the
# shipped backbone at 176 px with warm-up + cosine decay and a weight moving average for 16 epochs, and the
# shipped recipe fine-tuned from block_8 for 12 epochs, with and without lesion-mask guidance, and the
# shipped recipe with the default seed 42 (the three models shipped before; the unguided one checkpoints on
# raw accuracy).
WEIGHTS_035 ?= ../shared/weights/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5
COMPARE := runs/compare
TRAIN_SAME := $(BIN)/python -m train --data $(DATA) --split $(MODEL)/split.csv --imbalance sampling
compare-train: install
	$(TRAIN_SAME) --out $(COMPARE)/tm-0.35-224 --alpha 0.35 --size 224 --backbone-weights $(WEIGHTS_035) --head-epochs 4 --fine-tune-epochs 0
	$(TRAIN_SAME) --out $(COMPARE)/0.35-128 --alpha 0.35 --size 128 --backbone-weights $(WEIGHTS_035)
	$(TRAIN_SAME) --out $(COMPARE)/0.35-160 --alpha 0.35 --size 160 --backbone-weights $(WEIGHTS_035)
	$(TRAIN_SAME) --out $(COMPARE)/1.0-128 --alpha 1.0 --size 128 --backbone-weights $(WEIGHTS)
	$(TRAIN_SAME) --out $(COMPARE)/1.0-176-cosine --alpha 1.0 --size 176 --backbone-weights $(WEIGHTS) \
		--schedule cosine --ema 0.99 --fine-tune-epochs 16 --patience 6
	$(TRAIN_SAME) --out $(COMPARE)/1.0-160-unguided --alpha 1.0 --size 160 --backbone-weights $(WEIGHTS)
	$(TRAIN_SAME) --out $(COMPARE)/1.0-160-guided-block8 --alpha 1.0 --size 160 --backbone-weights $(WEIGHTS) \
		--mask-weight 1 --monitor adjusted
	$(TRAIN_SAME) --out $(COMPARE)/1.0-160-guided-block4-seed42 --alpha 1.0 --size 160 --backbone-weights $(WEIGHTS) \
		--mask-weight 1 --monitor adjusted --fine-tune-from block_4 --fine-tune-epochs 14

# Candidate recipes against the shipped model, both scored as shipped on the same validation images, with
# lesion-resampled intervals of the difference (train.studies.paired -> reports/paired/). Each is the shipped recipe
# with one change. cosine-trial: 24 epochs of warm-up + cosine decay instead of ReduceLROnPlateau (51 minutes
# on 2 cores). all-layers-trial: every backbone layer fine-tuned, not only block_4 on (about 40 minutes). Neither ships.
cosine-trial: install
	$(TRAIN_SAME) --out $(COMPARE)/1.0-160-cosine24 $(RECIPE) --fine-tune-epochs 24 --schedule cosine --patience 8
	$(BIN)/python -m train.studies.paired $(MODEL) $(COMPARE)/1.0-160-cosine24 --out reports/paired/cosine24.json

# seed-trial: the shipped recipe itself with another seed. The shipped run was picked on these validation
# images (seed 7 over 42, the retrain over the first run), so its validation figures are flattered; a fresh
# seed shows how much, and how far the recipe alone moves between seeds.
seed-trial: install
	$(TRAIN_SAME) --out $(COMPARE)/1.0-160-seed11 $(RECIPE) --seed 11
	$(BIN)/python -m train.studies.paired $(MODEL) $(COMPARE)/1.0-160-seed11 --out reports/paired/seed11.json
	$(MAKE) seed-test

# The seed-11 run on the test split in both conditions: a second draw of the recipe's test figures, to size
# how far they move with the seed alone. It never picks the shipped model (that is decided on validation).
SEED_TEST := reports/paired/seed11-test
seed-test: install
	$(BIN)/python -m train.evaluation.evaluate --model $(COMPARE)/1.0-160-seed11 --images $(LOW_IMAGES) --labels $(TEST_LABELS) \
		--out $(SEED_TEST)/low
	$(BIN)/python -m train.evaluation.evaluate --model $(COMPARE)/1.0-160-seed11 $(SHARP_PAIRS) --labels $(TEST_LABELS) \
		--out $(SEED_TEST)/sharp

# The acquisition augmentation, part by part (#15 asks to keep what helps): the shipped recipe without it and
# with its down-then-up rescaling alone (about 25 minutes each on 2 cores). Each is compared with the
# shipped run (train.studies.paired), and every run, the shipped one and seed 11 included, is scored on the 875
# validation images that have both copies, sharp crops against their 200x150 copies (acquisition-val-pairs).
ACQ_RUNS := no-acquisition rescale-only
acquisition-trials: install
	$(TRAIN_SAME) --out $(COMPARE)/1.0-160-no-acquisition $(filter-out --acquisition,$(RECIPE))
	$(TRAIN_SAME) --out $(COMPARE)/1.0-160-rescale-only $(RECIPE) --acquisition-changes rescale
	for run in $(ACQ_RUNS); do \
		$(BIN)/python -m train.studies.paired $(MODEL) $(COMPARE)/1.0-160-$$run --out reports/paired/$$run.json || exit 1; done
	$(MAKE) acquisition-val-pairs

VAL_PAIRS := reports/paired/val-pairs
acquisition-val-pairs: install
	for run in $(MODEL) $(addprefix $(COMPARE)/1.0-160-,seed11 $(ACQ_RUNS)); do \
		$(BIN)/python -m train.evaluation.evaluate --model $$run $(SHARP_PAIRS) --labels $(MODEL)/val_labels.csv \
			--out $(VAL_PAIRS)/$$(basename $$run) || exit 1; done

# Same-lesion consistency (#25): the shipped recipe plus --consistency 1, with the shipped seed and with seed 11
# (about 30 minutes each on 2 cores), each compared with the shipped run on validation (accuracy, malignant
# specificity and the photo-to-photo figures, train.studies.paired) and scored on the 875 validation images that
# have both copies. It ships only if both seeds meet the bar in README's "Same-lesion consistency".
CONSISTENCY_SEEDS := 7 11
consistency-trials: install
	for seed in $(CONSISTENCY_SEEDS); do \
		$(TRAIN_SAME) --out $(COMPARE)/1.0-160-consistency-seed$$seed $(RECIPE) --consistency 1 --seed $$seed || exit 1; \
		$(BIN)/python -m train.studies.paired $(MODEL) $(COMPARE)/1.0-160-consistency-seed$$seed \
			--out reports/paired/consistency-seed$$seed.json || exit 1; \
		$(BIN)/python -m train.evaluation.evaluate --model $(COMPARE)/1.0-160-consistency-seed$$seed $(SHARP_PAIRS) \
			--labels $(MODEL)/val_labels.csv --out $(VAL_PAIRS)/1.0-160-consistency-seed$$seed || exit 1; done

# The control of the trials above: the same pairs in every batch with a negligible pair term (--consistency 1e-9),
# so that the cost of halving the distinct images per batch is told apart from the cost of the term itself.
pairs-only-trial: install
	$(TRAIN_SAME) --out $(COMPARE)/1.0-160-pairs-only-seed7 $(RECIPE) --consistency 1e-9
	$(BIN)/python -m train.studies.paired $(MODEL) $(COMPARE)/1.0-160-pairs-only-seed7 --out reports/paired/pairs-only-seed7.json

# The pair term late only (#36): 3 epochs from the shipped model's weights with it, two seeds, and the control (the
# same epochs, a negligible term), each compared with the shipped run on validation, per photo (paired) and per
# lesion in both conditions (the sharp crops and their 200x150 copies; val-pairs/).
LATE := --init-from $(MODEL) --consistency-epochs 3 --late-lr 1e-5
late-consistency-trials: install
	for run in "consistency 1 seed 7" "consistency 1 seed 11" "consistency 1e-9 seed 7"; do \
		set -- $$run; name=late-consistency$$2-seed$$4; \
		$(TRAIN_SAME) --out $(COMPARE)/1.0-160-$$name $(RECIPE) $(LATE) --consistency $$2 --seed $$4 || exit 1; \
		$(BIN)/python -m train.studies.paired $(MODEL) $(COMPARE)/1.0-160-$$name --out reports/paired/$$name.json || exit 1; \
		$(BIN)/python -m train.evaluation.evaluate --model $(COMPARE)/1.0-160-$$name $(SHARP_PAIRS) \
			--labels $(MODEL)/val_labels.csv --out $(VAL_PAIRS)/1.0-160-$$name || exit 1; done

# A lighter pair term (the pair term is what costs accuracy, see pairs-only-trial), with the shipped seed.
consistency-weight-trial: install
	$(TRAIN_SAME) --out $(COMPARE)/1.0-160-consistency0.3-seed7 $(RECIPE) --consistency 0.3
	$(BIN)/python -m train.studies.paired $(MODEL) $(COMPARE)/1.0-160-consistency0.3-seed7 --out reports/paired/consistency0.3-seed7.json

# A smaller input for speed (#26 asks for the warm WASM time at most half the reference's; at 160 px the network
# already does 0.510 of the reference's multiply-adds, so only a smaller network can): the shipped recipe at 144 px
# (0.413 of them), compared with the shipped run on validation, then exported in float16 and benchmarked like
# the shipped model (about 35 minutes on 2 cores).
SMALL := $(COMPARE)/1.0-144-seed7
input-size-trial: install
	$(TRAIN_SAME) --out $(SMALL) $(RECIPE) --size 144
	$(BIN)/python -m train.studies.paired $(MODEL) $(SMALL) --out reports/paired/size144-seed7.json
	$(BIN)/python -m train.guard.ood --model $(SMALL)
	$(BIN)/python -m export --model $(SMALL) --out $(SMALL)/tfjs --quantize float16
	$(BIN)/python -m export.studies.bench --site-model $(SMALL)/tfjs --out reports/paired/size144-seed7-bench.json

# Another clinic's dermatoscope (#37): the shipped recipe plus the ISIC Archive's training part (--extra-data), with
# the shipped seed and seed 11 (about 40 minutes each on 2 cores), each with its own guard, compared with the shipped
# run on HAM10000 validation (train.studies.paired) and scored on the external test part and the HAM10000 test split.
# extra-aspect-trial: the same with random aspect-ratio changes (the ISIC copies are squashed to squares).
EXTRA_SEEDS := 7 11
define external_trial
	$(TRAIN_SAME) --out $(COMPARE)/$(1) $(RECIPE) $(2)
	$(BIN)/python -m train.guard.ood --model $(COMPARE)/$(1)
	$(BIN)/python -m train.studies.paired $(MODEL) $(COMPARE)/$(1) --out reports/paired/$(1).json
	$(BIN)/python -m train.evaluation.evaluate --model $(COMPARE)/$(1) $(EXTERNAL) \
		--out reports/paired/$(1)-test/external
	$(BIN)/python -m train.evaluation.evaluate --model $(COMPARE)/$(1) --images $(LOW_IMAGES) --labels $(TEST_LABELS) \
		--out reports/paired/$(1)-test/low
	$(BIN)/python -m train.guard.ood_eval --model $(COMPARE)/$(1) $(OOD_EVAL_SETS) --out reports/paired/$(1)-ood
	$(BIN)/python -m train.evaluation.evaluate --model $(COMPARE)/$(1) $(INNER) --out reports/paired/$(1)-inner
endef
extra-data-trials: install
	$(OOD_SET)
	$(call external_trial,1.0-160-extra-seed7,--extra-data $(EXTRA) --seed 7)
	$(call external_trial,1.0-160-extra-seed11,--extra-data $(EXTRA) --seed 11)

# The shipped network with its guard refitted on the ISIC training part too (0.98 and 0.95 quantiles of each
# source's validation), scored on the external test part and the non-lesion set (docs/decisions.md).
# extra-per-source-guard-trial: the same with centres and a threshold per source (train.guard.ood --per-source).
define guard_trial
	mkdir -p $(COMPARE)/$(1) && cp $(MODEL)/* $(COMPARE)/$(1)/
	$(BIN)/python -m train.guard.ood --model $(COMPARE)/$(1) --extra-data $(EXTRA) $(2)
	$(BIN)/python -m train.evaluation.evaluate --model $(COMPARE)/$(1) $(EXTERNAL) --out reports/paired/$(1)-test/external
	$(BIN)/python -m train.guard.ood_eval --model $(COMPARE)/$(1) $(OOD_EVAL_SETS) --out reports/paired/$(1)-ood
	cp $(COMPARE)/$(1)/ood.json reports/paired/$(1)-ood/guard.json
endef
extra-guard-trial: install
	$(OOD_SET)
	$(call guard_trial,shipped-guard-isic,--val-quantile 0.98)
	$(call guard_trial,shipped-guard-isic-q95,--val-quantile 0.95)

# The shipped network with the guard fitted against the non-lesion photos (#43's outlier exposure), no retraining.
shipped-negatives-guard-trial: install
	$(OOD_SET)
	$(call guard_trial,shipped-guard-negatives,--negatives $(NEGATIVES) --val-quantile 0.95)
	$(BIN)/python -m train.evaluation.evaluate --model $(COMPARE)/shipped-guard-negatives $(INNER) \
		--out reports/paired/shipped-guard-negatives-test/inner

extra-per-source-guard-trial: install
	$(OOD_SET)
	$(call guard_trial,shipped-guard-isic-per-source,--per-source)
	$(call guard_trial,shipped-guard-isic-per-source-q95,--per-source --val-quantile 0.95)

# extra-late-guard-trial: the pooled guard with a second part on the pooled top features (train.guard.ood --late).
extra-late-guard-trial: install
	$(OOD_SET)
	$(call guard_trial,shipped-guard-isic-late,--late)

extra-aspect-trial: install
	$(call external_trial,1.0-160-extra-aspect-seed7,--extra-data $(EXTRA) --seed 7 --aspect)

# One model for every clinic (#43): the shipped weights fine-tuned for a few epochs on a stream that is 30% ISIC
# training images (--extra-share), the shipped model's softened answers kept on HAM10000 images (--distil, learning
# without forgetting), then a guard fitted against photos that are not lesions (--negatives, outlier exposure) at the
# 0.95 quantile of each source's validation; scored on HAM10000 validation (paired with the shipped run), the HAM10000
# test split in both conditions, the ISIC inner check and external part and the non-lesion set, and judged by
# train.studies.ship_rule against the shipped model's test predictions. Two seeds (about 35 minutes each on 2 cores).
NEGATIVES ?= ../shared/data/not_lesions_imagenet_sample
FROM_SHIPPED := --extra-data $(EXTRA) --init-from $(MODEL) --fine-tune-epochs 5 --fine-tune-lr 3e-5
DISTIL := --teacher $(MODEL) --distil 1
BALANCE := --extra-share 0.3
LWF := $(FROM_SHIPPED) $(DISTIL) $(BALANCE)
CLINICS := reports/every-clinic
define clinic_trial
	[ -f $(COMPARE)/$(1)/model.keras ] || $(TRAIN_SAME) --out $(COMPARE)/$(1) $(RECIPE) $(2)
	$(BIN)/python -m train.guard.ood --model $(COMPARE)/$(1) --negatives $(NEGATIVES) --val-quantile 0.95
	$(BIN)/python -m train.guard.ood_eval --model $(COMPARE)/$(1) $(OOD_EVAL_SETS) --out $(CLINICS)/$(1)/ood
	$(call clinic_scores,$(1))
endef
define clinic_scores
	$(BIN)/python -m train.studies.paired $(MODEL) $(COMPARE)/$(1) --out $(CLINICS)/$(1)/validation.json
	$(BIN)/python -m train.evaluation.evaluate --model $(COMPARE)/$(1) --images $(LOW_IMAGES) --labels $(TEST_LABELS) --out $(CLINICS)/$(1)/low
	$(BIN)/python -m train.evaluation.evaluate --model $(COMPARE)/$(1) $(SHARP_PAIRS) --labels $(TEST_LABELS) --out $(CLINICS)/$(1)/sharp
	$(BIN)/python -m train.evaluation.evaluate --model $(COMPARE)/$(1) $(INNER) --out $(CLINICS)/$(1)/inner
	$(BIN)/python -m train.evaluation.evaluate --model $(COMPARE)/$(1) $(EXTERNAL) --out $(CLINICS)/$(1)/external
	cp $(COMPARE)/$(1)/ood.json $(CLINICS)/$(1)/ood/guard.json
	cp $(COMPARE)/$(1)/timings.json $(CLINICS)/$(1)/timings.json
	$(BIN)/python -m train.studies.ship_rule --shipped low=reports/test/keras/low sharp=reports/test/keras/sharp \
		inner=reports/paired/shipped-inner --candidate low=$(CLINICS)/$(1)/low sharp=$(CLINICS)/$(1)/sharp \
		inner=$(CLINICS)/$(1)/inner external=$(CLINICS)/$(1)/external --ood $(CLINICS)/$(1)/ood/ood.json \
		--out $(CLINICS)/$(1)/ship_rule.json
endef
every-clinic-trials: install
	$(OOD_SET)
	$(call clinic_trial,lwf-seed7,$(LWF) --seed 7)
	$(call clinic_trial,lwf-seed11,$(LWF) --seed 11)

# A heavier pull towards the shipped model's answers (--distil 3), seed 7: does it keep HAM10000's malignant ranking?
every-clinic-distil3-trial: install
	$(OOD_SET)
	$(call clinic_trial,lwf3-seed7,$(LWF) --distil 3 --seed 7)

# Each option alone, seed 7, everything else as every-clinic-trials: source balance without distillation, and
# distillation with the ISIC images at the sampler's own share of the class-balanced stream.
every-clinic-alone-trials: install
	$(OOD_SET)
	$(call clinic_trial,balance-only-seed7,$(FROM_SHIPPED) $(BALANCE) --seed 7)
	$(call clinic_trial,distil-only-seed7,$(FROM_SHIPPED) $(DISTIL) --seed 7)

# The every-clinic recipe with Shades of Gray colour constancy (--colour-constancy 6) in training, evaluation and the
# page, seed 7: does white balance carry the other clinics' colours over? Then colour constancy alone (the shipped
# weights fine-tuned on the mixed stream at the sampler's own share, no distillation, no source balance).
every-clinic-colour-trial: install
	$(OOD_SET)
	$(call clinic_trial,lwf-colour-seed7,$(LWF) --colour-constancy 6 --seed 7)
	$(call clinic_trial,colour-only-seed7,$(FROM_SHIPPED) --colour-constancy 6 --seed 7)

# The same runs with the class-balance correction, temperature and operating point fitted on HAM10000 validation
# and the ISIC inner check together (train.calibration.recalibrate --with-inner); guard and its scores unchanged.
define joint_trial
	rm -rf $(COMPARE)/$(2) && mkdir -p $(COMPARE)/$(2) $(CLINICS)/$(2) && cp $(COMPARE)/$(1)/*.* $(COMPARE)/$(2)/
	$(BIN)/python -m train.calibration.recalibrate --model $(COMPARE)/$(2) --with-inner
	rm -rf $(CLINICS)/$(2)/ood && cp -r $(CLINICS)/$(1)/ood $(CLINICS)/$(2)/ood
	$(call clinic_scores,$(2))
endef
every-clinic-joint-trials: install
	$(call joint_trial,lwf-seed7,lwf-joint-seed7)
	$(call joint_trial,lwf-seed11,lwf-joint-seed11)

# Dermatoscope optics (white balance, tone curve, dark rim) in training, HAM10000 only: how much of the
# external gap does augmentation close for a clinic whose images we never train on?
optics-trial: install
	$(OOD_SET)
	$(BIN)/python -m train.evaluation.evaluate --model $(MODEL) $(INNER) --out reports/paired/shipped-inner
	$(call external_trial,1.0-160-optics-seed7,--seed 7 --optics)

all-layers-trial: install
	$(TRAIN_SAME) --out $(COMPARE)/1.0-160-all-layers $(RECIPE) --fine-tune-from ''
	$(BIN)/python -m train.studies.paired $(MODEL) $(COMPARE)/1.0-160-all-layers --out reports/paired/all-layers.json

backbones: install
	$(BIN)/python -m export.studies.backbones $(COMPARE)/tm-0.35-224 $(COMPARE)/0.35-128 $(COMPARE)/0.35-160 $(COMPARE)/1.0-128 $(COMPARE)/1.0-176-cosine $(COMPARE)/1.0-160-unguided $(COMPARE)/1.0-160-guided-block8 $(COMPARE)/1.0-160-guided-block4-seed42 $(MODEL) --shipped $(MODEL) --out reports/backbones
