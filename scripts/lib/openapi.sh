# Sourced by scripts/test: make sure the Python `openapi-spec-validator` is there for the contract
# test (tests/integration/contract.rs runs it on the served /openapi.json). Installs it with pip
# when it is missing and pip is available; otherwise stops with exact instructions. The test never
# skips: without the validator it fails too.
#
# ensure_openapi_validator: sets and exports OPENAPI_SPEC_VALIDATOR (the validator's command).

ensure_openapi_validator() {
  if [ -n "${OPENAPI_SPEC_VALIDATOR:-}" ]; then
    export OPENAPI_SPEC_VALIDATOR
    return
  fi
  if ! command -v openapi-spec-validator >/dev/null 2>&1; then
    if command -v python3 >/dev/null 2>&1 && python3 -m pip --version >/dev/null 2>&1; then
      step "openapi-spec-validator not found: installing it (python3 -m pip install openapi-spec-validator)"
      python3 -m pip install --quiet openapi-spec-validator \
        || python3 -m pip install --quiet --user openapi-spec-validator
      # pip may put the script where the PATH does not look (--user); the module always works.
    else
      cat >&2 <<'MSG'
openapi-spec-validator is required (the contract test validates the served /openapi.json).
Install Python 3 with pip, then: python3 -m pip install openapi-spec-validator
and run the script again, or set OPENAPI_SPEC_VALIDATOR to the validator's command.
MSG
      exit 1
    fi
  fi
  if command -v openapi-spec-validator >/dev/null 2>&1; then
    OPENAPI_SPEC_VALIDATOR=$(command -v openapi-spec-validator)
    export OPENAPI_SPEC_VALIDATOR
  elif ! python3 -m openapi_spec_validator --version >/dev/null 2>&1; then
    echo "openapi-spec-validator was installed but neither its script nor its module runs" >&2
    exit 1
  fi
}
