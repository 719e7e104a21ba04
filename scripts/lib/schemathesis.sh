# Sourced by scripts/test: make sure the Python `schemathesis` is there for the conformance test
# (crates/caseledger-cli/tests/conformance.rs runs it against `caseledger serve` on SQLite and on
# PostgreSQL). Installs the pinned version with pip when it is missing or another version is
# installed, and pip is available; otherwise stops with exact instructions. The test never skips:
# without schemathesis it fails too.
#
# ensure_schemathesis: sets and exports SCHEMATHESIS (the command to run).

# Pinned: the test's options, its configuration file (dictionaries of seeded ids) and its figures
# are those of this version.
SCHEMATHESIS_VERSION=4.32.5

ensure_schemathesis() {
  if [ -n "${SCHEMATHESIS:-}" ]; then
    export SCHEMATHESIS
    return
  fi
  local installed=""
  if command -v python3 >/dev/null 2>&1; then
    installed=$(python3 -m schemathesis.cli --version 2>/dev/null | awk '{print $NF}' || true)
  fi
  if [ "$installed" != "$SCHEMATHESIS_VERSION" ]; then
    if command -v python3 >/dev/null 2>&1 && python3 -m pip --version >/dev/null 2>&1; then
      step "schemathesis $SCHEMATHESIS_VERSION not found${installed:+ (found $installed)}: installing it (python3 -m pip install schemathesis==$SCHEMATHESIS_VERSION)"
      python3 -m pip install --quiet "schemathesis==$SCHEMATHESIS_VERSION" \
        || python3 -m pip install --quiet --user "schemathesis==$SCHEMATHESIS_VERSION"
    else
      cat >&2 <<MSG
schemathesis $SCHEMATHESIS_VERSION is required (the conformance test runs it against the server).
Install Python 3 with pip, then: python3 -m pip install schemathesis==$SCHEMATHESIS_VERSION
and run the script again, or set SCHEMATHESIS to the command of an installed schemathesis 4.
MSG
      exit 1
    fi
  fi
  if ! python3 -m schemathesis.cli --version >/dev/null 2>&1; then
    echo "schemathesis was installed but python3 -m schemathesis.cli does not run" >&2
    exit 1
  fi
  # Its script, where pip put it (--user may be off the PATH); the test falls back to the module.
  local script
  for script in "$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')/schemathesis" \
                "$(python3 -m site --user-base)/bin/schemathesis"; do
    if [ -x "$script" ] && "$script" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
      SCHEMATHESIS=$script
      export SCHEMATHESIS
      return
    fi
  done
}
