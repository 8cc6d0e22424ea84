"""What a person watches: the live progress line, the coverage alarms and the nightly report."""
