# checkov for the deployment scans (tests/deploy/test_checkov.py). It pins many packages of its own
# (boto, networkx, policy_sentry …), so it gets its own virtual environment rather than the
# project's; the stamp names the version, so a version change reinstalls and an installed one costs
# nothing. hadolint, kubectl and kubernetes-validate come with the test extras in .venv.
CHECKOV_VERSION := 3.3.30
CHECKOV_VENV := $(VENV)/tools/checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)

.PHONY: checkov
checkov: $(CHECKOV_STAMP)

$(CHECKOV_STAMP):
	rm -rf $(CHECKOV_VENV)
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --no-cache-dir "checkov==$(CHECKOV_VERSION)"
	CKV_SKIP_PACKAGE_UPDATE_CHECK=true BC_SKIP_MAPPING=TRUE $(CHECKOV_VENV)/bin/checkov --version
	touch $(CHECKOV_STAMP)

TEST_TOOLS += checkov
