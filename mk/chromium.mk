# Headless Chromium for the report tests (tests/snapshots/test_report*.py), driven by Playwright
# through executable_path, so `playwright install` (a CDN download) is never needed. Debian's package
# is installed only when /usr/bin/chromium is missing; `apt-get update` first because the image's
# index can name a version the mirror no longer has. --no-install-recommends keeps it to ~25
# packages instead of upgrading base packages (see /work/shared/notes/ci-tooling.md §5).
CHROMIUM := /usr/bin/chromium

.PHONY: chromium
chromium: $(CHROMIUM)

$(CHROMIUM):
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium
	test -x $(CHROMIUM)

TEST_TOOLS += chromium
