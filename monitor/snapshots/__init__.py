"""Compliance snapshots for auditors: a hash-chained, optionally signed directory per tenant and
sweep (``snapshot.json``, ``findings.csv``, ``report.html``, ``manifest.json``), written atomically,
verified, compared, pruned and copied to Blob Storage. The format is described in
``docs/snapshots.md`` and ``docs/snapshot.schema.json``.

Modules: ``settings`` / ``blob_settings`` (the ``[snapshots]`` table), ``document`` (building
``snapshot.json`` from the state store), ``csv_export`` (``findings.csv``), ``report`` (the HTML
page), ``manifest`` (hashes, canonical bytes, Ed25519 keys and signatures), ``writer`` (the
atomic, chained write and retention), ``chain`` (reading a chain from disk), ``verify``, ``diff``,
``service`` (writing from a running monitor), ``upload`` and ``blob`` (the Azure Blob copy).
"""
