# Sourced by scripts/test: find headless Chromium for the page tests (public appraisal page, /docs), installing
# Debian's `chromium` (and a CJK font, so the Chinese page renders in the screenshot) when it is
# missing and we are root on Debian/Ubuntu; otherwise stop with exact instructions. The test
# never skips: without a browser it fails too.
#
# ensure_chromium: sets and exports CHROMIUM (the browser binary).

ensure_chromium() {
  local found=""
  for candidate in "${CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then found=$candidate; break; fi
  done
  if [ -z "$found" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      step "Chromium not found: installing it (apt-get install -y chromium fonts-wqy-zenhei)"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-zenhei >/dev/null
      found=/usr/bin/chromium
      [ -x "$found" ] || { echo "chromium installed but /usr/bin/chromium not found" >&2; exit 1; }
    else
      cat >&2 <<'MSG'
Headless Chromium is required (the public appraisal page and /docs are checked in a real browser
and screenshots are kept under target/artifacts/). Install it and a CJK font
(Debian/Ubuntu: sudo apt-get install -y chromium fonts-wqy-zenhei) and run the script again,
or set CHROMIUM=/path/to/chromium.
MSG
      exit 1
    fi
  fi
  # A browser that was installed without a CJK font renders the Chinese page as boxes: the
  # test still checks the text, but the screenshot a person looks at is useless. Install the
  # font on its own when it is missing.
  if command -v fc-list >/dev/null 2>&1 && [ -z "$(fc-list :lang=zh 2>/dev/null | head -n 1)" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      step "no CJK font found: installing one (apt-get install -y fonts-wqy-zenhei)"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-zenhei >/dev/null
    else
      echo "warning: no CJK font (fonts-wqy-zenhei): the page screenshot will show boxes" >&2
    fi
  fi
  export CHROMIUM=$found
}
