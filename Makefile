# `sam build` (BuildMethod: makefile in template.yaml) calls `make build-<LogicalId>` here,
# once per function, with ARTIFACTS_DIR set. The first call compiles all six functions in
# one cargo-lambda build (scripts/lambda-build.sh); the other five find it fresh and only
# copy their bootstrap. Build in source (samconfig.toml: build_in_source), so SAM does not
# copy the repository into a scratch directory first.

BIN_SchemaValidatorFunction := schema-validator
BIN_DriftDetectorFunction := drift-detector
BIN_BatchSizeAdjusterFunction := batch-size-adjuster
BIN_SagaCompensatorFunction := saga-compensator
BIN_ApprovalHandlerFunction := approval-handler
BIN_PipelineTriggerFunction := pipeline-trigger

build-%:
	@test -n "$(BIN_$*)" || { echo "Makefile: no function binary for $*" >&2; exit 1; }
	@test -n "$(ARTIFACTS_DIR)" || { echo "Makefile: ARTIFACTS_DIR is not set (sam build sets it)" >&2; exit 1; }
	bash scripts/lambda-build.sh --arch arm64 --install $(BIN_$*) "$(ARTIFACTS_DIR)"
