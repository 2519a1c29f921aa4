# Azurite, the Azure Storage emulator, for the snapshot blob tests (tests/snapshots/test_blob*.py,
# started by tests/support/azurite.py). tools/azurite pins 3.35.0, the last release that runs on
# Node 20 (see /work/shared/notes/ci-tooling.md §4). `npm ci` installs exactly the lockfile; the stamp
# makes the target a no-op until package.json or the lockfile changes. npm's debug logs stay in the
# workspace.
AZURITE_DIR := tools/azurite
AZURITE_STAMP := $(AZURITE_DIR)/node_modules/.installed-stamp

.PHONY: azurite
azurite: $(AZURITE_STAMP)

$(AZURITE_STAMP): $(AZURITE_DIR)/package.json $(AZURITE_DIR)/package-lock.json
	@command -v npm >/dev/null || { echo "mk/azurite.mk: npm not found; install Node.js 20 and npm" \
		"(apt-get install nodejs npm) to run the Azurite tests" >&2; exit 1; }
	npm ci --prefix $(AZURITE_DIR) --no-audit --no-fund --logs-dir $(CURDIR)/.tmp/npm-logs
	test -x $(AZURITE_DIR)/node_modules/.bin/azurite-blob
	touch $@

TEST_TOOLS += azurite
