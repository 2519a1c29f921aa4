"""Compliance snapshots for auditors: a hash-chained, optionally signed directory per tenant and
sweep (``snapshot.json``, ``findings.csv``, ``report.html``, ``manifest.json``), written atomically,
verified, compared and pruned. The format is described in ``docs/snapshots.md``.

Modules: ``settings`` / ``blob_settings`` (the ``[snapshots]`` table), ``document`` (building
``snapshot.json`` from the state store), ``writer`` (the atomic, chained write and retention),
``verify``, ``diff``, ``report`` (the HTML page) and ``blob`` (the Azure Blob copy).
"""
