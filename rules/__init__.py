"""Pure rules: records in, verdicts out, each verdict carrying its reasons. No I/O here."""
